from django.urls import URLPattern, URLResolver, path

from postmortems.views import lists, review

app_name = "postmortems"

urlpatterns: list[URLPattern | URLResolver] = [
    # --- the list and the weekly review (branch pm-review) ---
    path("", lists.postmortem_list, name="list"),
    path("review/", review.review_current, name="review-current"),
    path("review/meeting.ics", review.review_meeting_ics, name="review-ics"),
    path("review/<str:week>/", review.review_page, name="review"),
    path("review/<str:week>/meeting/", review.review_meeting_save, name="review-meeting"),
    path("review/<str:week>/held/", review.review_meeting_held, name="review-held"),
    # --- end of the list and the weekly review ---
]

# --- PLACEHOLDER (branch pm-review): drop at merge; pm-pages builds postmortems:detail ---
from postmortems.views import placeholder  # noqa: E402

urlpatterns.append(path("<int:pk>/", placeholder.detail, name="detail"))
# --- end of PLACEHOLDER ---

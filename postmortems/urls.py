from django.urls import URLPattern, URLResolver, path

from postmortems.views import items, lists, pages, review

app_name = "postmortems"

urlpatterns: list[URLPattern | URLResolver] = [
    # The postmortem page, writing, moves, action items (views/pages.py, views/items.py).
    path("<int:pk>/", pages.postmortem_page, name="detail"),
    path("<int:pk>/edit/", pages.postmortem_edit, name="edit"),
    path("<int:pk>/submit/", pages.postmortem_move, {"move": "submit"}, name="submit"),
    path("<int:pk>/publish/", pages.postmortem_move, {"move": "publish"}, name="publish"),
    path("<int:pk>/reopen/", pages.postmortem_move, {"move": "reopen"}, name="reopen"),
    path("<int:pk>/action-items/", items.action_item_add, name="action-item-add"),
    path("preview/", pages.markdown_preview, name="preview"),
    path("start/<int:incident_pk>/", pages.postmortem_start, name="start"),
    path("action-items/mine/", items.my_action_items, name="my-action-items"),
    path("action-items/<int:pk>/", items.action_item_edit, name="action-item-edit"),
    path("action-items/<int:pk>/status/", items.action_item_status, name="action-item-status"),
    # The list and the weekly review (views/lists.py, views/review.py).
    path("", lists.postmortem_list, name="list"),
    path("review/", review.review_current, name="review-current"),
    path("review/meeting.ics", review.review_meeting_ics, name="review-ics"),
    path("review/<str:week>/", review.review_page, name="review"),
    path("review/<str:week>/meeting/", review.review_meeting_save, name="review-meeting"),
    path("review/<str:week>/held/", review.review_meeting_held, name="review-held"),
]

from django.urls import path, register_converter

from rotations import views


class FeedTokenConverter:
    """A feed secret as made by `secrets.token_urlsafe` (so '.ics' is never part of it)."""

    regex = r"[A-Za-z0-9_-]{16,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(FeedTokenConverter, "feedtoken")

app_name = "rotations"

urlpatterns = [
    path("oncall/", views.oncall, name="oncall"),
    path("teams/<slug:slug>/", views.team_detail, name="team"),
    path("rotations/<int:pk>/", views.rotation_detail, name="rotation"),
    path("rotations/<int:pk>/overrides/", views.override_create, name="override-create"),
    path(
        "rotations/<int:pk>/rotate-feed/",
        views.rotation_feed_rotate,
        name="rotation-feed-rotate",
    ),
    path("overrides/<int:pk>/delete/", views.override_delete, name="override-delete"),
    path("me/shifts/", views.my_shifts, name="my-shifts"),
    path("me/shifts/change/", views.my_shift_change, name="my-shift-change"),
    path(
        "me/requests/<int:pk>/<slug:answer>/",
        views.my_request_answer,
        name="my-request-answer",
    ),
    path("me/shifts/rotate-feed/", views.personal_feed_rotate, name="personal-feed-rotate"),
    path("ical/rotation/<feedtoken:token>.ics", views.rotation_feed, name="rotation-feed"),
    path("ical/person/<feedtoken:token>.ics", views.person_feed, name="person-feed"),
]

"""Postmortem API routes (included by oncall/api_urls.py, namespace "api")."""

from django.urls import URLPattern, URLResolver, path

from postmortems.api import review, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("postmortems/", views.PostmortemListApi.as_view(), name="postmortem-list"),
    path(
        "postmortems/<int:postmortem_id>/",
        views.PostmortemDetailApi.as_view(),
        name="postmortem-detail",
    ),
    path(
        "postmortems/<int:postmortem_id>/submit/",
        views.PostmortemSubmitApi.as_view(),
        name="postmortem-submit",
    ),
    path(
        "postmortems/<int:postmortem_id>/publish/",
        views.PostmortemPublishApi.as_view(),
        name="postmortem-publish",
    ),
    path(
        "postmortems/<int:postmortem_id>/reopen/",
        views.PostmortemReopenApi.as_view(),
        name="postmortem-reopen",
    ),
    path(
        "postmortems/<int:postmortem_id>/action-items/",
        views.PostmortemActionItemsApi.as_view(),
        name="postmortem-action-items",
    ),
    path("action-items/", views.ActionItemListApi.as_view(), name="action-item-list"),
    path("reviews/<str:week>/", review.ReviewApi.as_view(), name="review"),
    path(
        "action-items/<int:item_id>/",
        views.ActionItemDetailApi.as_view(),
        name="action-item-detail",
    ),
]

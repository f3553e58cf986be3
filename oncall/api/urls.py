"""Core API routes (keys, users, me)."""

from django.urls import path

from oncall.api import views

urlpatterns = [
    path("keys/", views.ApiKeyListApi.as_view(), name="key-list"),
    path("keys/<int:key_id>/", views.ApiKeyDetailApi.as_view(), name="key-detail"),
    path("users/", views.UserListApi.as_view(), name="user-list"),
    path("users/<int:user_id>/", views.UserDetailApi.as_view(), name="user-detail"),
    path("me/", views.MeApi.as_view(), name="me"),
]

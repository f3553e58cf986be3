"""Core API routes (keys, users, me)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []

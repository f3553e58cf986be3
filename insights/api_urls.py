"""Insights API route (included by oncall/api_urls.py, namespace "api")."""

from django.urls import URLPattern, URLResolver, path

from insights.api import InsightsApi

urlpatterns: list[URLPattern | URLResolver] = [
    path("insights/", InsightsApi.as_view(), name="insights"),
]

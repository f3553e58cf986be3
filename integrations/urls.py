"""Ingestion routes at the site root (drop-in URLs monitoring tools already know), and the
portal's page of an integration."""

from django.urls import path

from integrations import pages, views

app_name = "integrations"

urlpatterns = [
    path("v2/enqueue", views.events_v2, name="events-v2"),
    path("integrations/alertmanager/", views.alertmanager, name="alertmanager"),
    path("integrations/alertmanager/<str:key>/", views.alertmanager, name="alertmanager-key"),
    path("integrations/heartbeat/<str:key>/", views.heartbeat, name="heartbeat"),
    path("integrations/<int:pk>/", pages.integration_detail, name="detail"),
]

"""Ingestion routes at the site root (drop-in URLs monitoring tools already know)."""

from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("v2/enqueue", views.events_v2, name="events-v2"),
    path("integrations/alertmanager/", views.alertmanager, name="alertmanager"),
    path("integrations/alertmanager/<str:key>/", views.alertmanager, name="alertmanager-key"),
]

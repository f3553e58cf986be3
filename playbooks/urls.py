from django.urls import path

from playbooks import views

app_name = "playbooks"

urlpatterns = [
    path("", views.entry_list, name="list"),
    path("new/", views.entry_edit, name="new"),
    path("<int:pk>/edit/", views.entry_edit, name="edit"),
    path(
        "attempt/<int:incident_pk>/<int:entry_pk>/",
        views.attempt_record,
        name="attempt",
    ),
]

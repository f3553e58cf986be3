from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.my_reports, name="mine"),
    path("handoffs/", views.handoffs, name="handoffs"),
    path("reminders/", views.reminders, name="reminders"),
    path("hours/", views.hours, name="hours"),
    path("hours.csv", views.hours_csv, name="hours-csv"),
    path("<int:report_id>/", views.report_detail, name="detail"),
    path("<int:report_id>/save/", views.report_save, name="save"),
    path("<int:report_id>/submit/", views.report_submit, name="submit"),
    path("<int:report_id>/handoff/", views.handoff_acknowledge, name="handoff"),
]

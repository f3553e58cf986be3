from django.urls import path

from incidents import views
from incidents.support import views as support_views
from incidents.views import ladder

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("mine/", views.my_incidents, name="mine"),
    path("mine/<int:pk>/acknowledge/", views.acknowledge_mine, name="acknowledge-mine"),
    path("declare/", views.declare, name="declare"),
    path("engage/", views.engage, name="engage"),
    path("engage/preview/", views.engage_preview, name="engage-preview"),
    path("<int:pk>/", views.incident_page, name="detail"),
    path("<int:pk>/live/", views.incident_live, name="live"),
    path("<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("<int:pk>/resolve/", views.resolve, name="resolve"),
    path("<int:pk>/actionable/", views.actionable, name="actionable"),
    path("<int:pk>/reopen/", views.reopen, name="reopen"),
    path("<int:pk>/escalate/", views.escalate_now, name="escalate"),
    path("<int:pk>/reassign/", views.reassign, name="reassign"),
    path("<int:pk>/severity/", views.set_severity, name="severity"),
    path("<int:pk>/commander/", views.set_commander, name="commander"),
    path("<int:pk>/note/", views.add_note, name="note"),
    path("<int:pk>/status-update/", views.post_status_update, name="status-update"),
    path("<int:pk>/triage/", views.confirm_triage, name="triage"),
    path("<int:pk>/triage/suggest/", views.triage_suggestion, name="triage-suggest"),
    path("<int:pk>/call/", views.record_call, name="record-call"),
    path(
        "<int:pk>/customer-contacts/",
        support_views.customer_contact_create,
        name="customer-contact",
    ),
    path("support/live/", support_views.support_dashboard_live, name="support-live"),
    path("<int:pk>/escalate-tier/", ladder.escalate_tier, name="escalate-tier"),
    path("<int:pk>/responders/", ladder.add_responder, name="add-responder"),
    path("<int:pk>/council/", ladder.council_decision, name="council-decision"),
    path("<int:pk>/category/", ladder.set_category, name="category"),
]

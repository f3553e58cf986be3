from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("ack/<str:token>/", views.ack, name="ack"),
    path("twilio/status/<int:pk>/", views.twilio_status, name="twilio-status"),
    path("twilio/voice/<str:token>/", views.twilio_voice_ack, name="twilio-voice-ack"),
    path("outbox/", views.outbox, name="outbox"),
    path("profile/", views.profile, name="profile"),
    path("profile/methods/", views.contact_method_add, name="method-add"),
    path("profile/methods/<int:pk>/verify/", views.contact_method_verify, name="method-verify"),
    path("profile/methods/<int:pk>/resend/", views.contact_method_resend, name="method-resend"),
    path(
        "profile/methods/<int:pk>/rotate-secret/",
        views.contact_method_secret_rotate,
        name="method-rotate-secret",
    ),
    path("profile/methods/<int:pk>/test/", views.contact_method_test, name="method-test"),
    path("profile/tests/<int:pk>/", views.test_page_status, name="test-page"),
    path("untested/", views.untested, name="untested"),
    path("profile/methods/<int:pk>/delete/", views.contact_method_delete, name="method-delete"),
    path("profile/rules/", views.rule_add, name="rule-add"),
    path("profile/rules/reset/", views.rules_reset, name="rules-reset"),
    path("profile/rules/<int:pk>/delete/", views.rule_delete, name="rule-delete"),
]

"""Every write of the notifications app (outbox, delivery, contact methods, rules, acks)."""

from notifications.services.bulk import Page, notifications_page_many
from notifications.services.contacts import (
    Throttled,
    VerificationThrottled,
    contact_method_create,
    contact_method_delete,
    contact_method_secret_rotate,
    contact_method_verification_send,
    contact_method_verify,
    notification_defaults_ensure,
    notification_rule_create,
    notification_rule_delete,
    notification_rules_reset,
)
from notifications.services.delivery import (
    notification_deliver,
    notification_provider_status_record,
    notifications_sweep,
)
from notifications.services.outbox import (
    IllegalTransition,
    NotificationError,
    UnknownSubject,
    notification_acknowledge,
    notification_enqueue,
    notification_transition,
    notifications_cancel_pending,
    notifications_enqueue_many,
    notifications_transition,
)
from notifications.services.paging import notifications_page
from notifications.services.testpage import TestPageThrottled, contact_method_test_send

__all__ = [
    "IllegalTransition",
    "NotificationError",
    "Page",
    "TestPageThrottled",
    "Throttled",
    "UnknownSubject",
    "VerificationThrottled",
    "contact_method_create",
    "contact_method_delete",
    "contact_method_secret_rotate",
    "contact_method_test_send",
    "contact_method_verification_send",
    "contact_method_verify",
    "notification_acknowledge",
    "notification_defaults_ensure",
    "notification_deliver",
    "notification_enqueue",
    "notification_provider_status_record",
    "notification_rule_create",
    "notification_rule_delete",
    "notification_rules_reset",
    "notification_transition",
    "notifications_cancel_pending",
    "notifications_enqueue_many",
    "notifications_page",
    "notifications_page_many",
    "notifications_sweep",
    "notifications_transition",
]

"""Demo contact methods and rules (called by `manage.py seed_demo` via demo_seed).

Every demo person gets a verified email method (their account email) and, with a phone,
verified SMS and voice methods, plus the default rules. Idempotent.
"""

from django.db import transaction
from django.utils import timezone

from notifications.models import Channel, ContactMethod
from notifications.services import notification_defaults_ensure
from oncall.models import User


@transaction.atomic
def seed(*, users: dict[str, User]) -> None:
    now = timezone.now()
    for user in users.values():
        wanted = [(Channel.EMAIL, user.email)] if user.email else []
        if user.phone:
            wanted += [(Channel.SMS, user.phone), (Channel.VOICE, user.phone)]
        for channel, address in wanted:
            method, _ = ContactMethod.objects.get_or_create(
                user=user, channel=channel, address=address, defaults={"label": "demo"}
            )
            if not method.verified:
                # Demo addresses are fictional: nobody could enter a code sent to them.
                method.verified_at = now
                method.save(update_fields=["verified_at"])
        notification_defaults_ensure(user=user)

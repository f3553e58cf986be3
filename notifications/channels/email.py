"""Email through Django's mail (MAILERS): plain text and HTML, with the acknowledge link."""

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from notifications.channels.base import (
    Backend,
    OutgoingMessage,
    PermanentError,
    SendResult,
    TransientError,
    one_line,
)
from oncall.markup import html_clean


def email_subject(message: OutgoingMessage) -> str:
    """'[SEV1 #42] Title' when the message carries a severity and a number."""
    tags = " ".join(
        part
        for part in (
            str(message.data.get("severity") or ""),
            f"#{message.data['number']}" if message.data.get("number") else "",
        )
        if part
    )
    first_line = message.body.strip().splitlines()[0][:120] if message.body.strip() else ""
    subject = message.subject or first_line or "Notification"
    # A header holds one line of printable text: control characters in a title (from an
    # alert, say) become spaces rather than refusing the mail.
    subject = one_line(subject)[:250] or "Notification"
    return f"[{tags}] {subject}" if tags else subject


class EmailBackend(Backend):
    def send(self, message: OutgoingMessage) -> SendResult:
        context = {
            "message": message,
            "subject": email_subject(message),
            # Cleaned again here: whatever wrote the row, no script reaches a mail reader.
            "html_body": html_clean(message.html_body) if message.html_body else "",
        }
        mail = EmailMultiAlternatives(
            subject=email_subject(message),
            body=render_to_string("notifications/email/notification.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.address],
            headers={"X-Notification-Key": message.idempotency_key},
        )
        mail.attach_alternative(
            render_to_string("notifications/email/notification.html", context), "text/html"
        )
        try:
            mail.send()
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentError(f"recipient refused: {error.recipients}") from error
        except smtplib.SMTPResponseException as error:
            text = f"SMTP {error.smtp_code}: {error.smtp_error!r}"
            if 500 <= error.smtp_code < 600:
                raise PermanentError(text) from error
            raise TransientError(text) from error
        except (smtplib.SMTPException, OSError) as error:
            raise TransientError(f"SMTP: {error}") from error
        return SendResult(provider_message_id=mail.extra_headers.get("Message-ID", ""))

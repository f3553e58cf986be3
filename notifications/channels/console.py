"""Prints pages to the terminal (make run); the outbox page shows the rows."""

import sys

from notifications.channels.base import Backend, OutgoingMessage, SendResult


class ConsoleBackend(Backend):
    def send(self, message: OutgoingMessage) -> SendResult:
        lines = [
            f"--- {message.channel} to {message.address} ({message.urgency}) ---",
            message.subject,
            message.body,
        ]
        if message.ack_url:
            label = (
                f"Acknowledge all {message.bundle_size}"
                if message.bundle_size > 1
                else "Acknowledge"
            )
            lines.append(f"{label}: {message.ack_url}")
        sys.stdout.write("\n".join(line for line in lines if line) + "\n")
        sys.stdout.flush()
        return SendResult(provider_message_id=f"console-{message.notification_id}")

"""Prints pages to the terminal (make run); the outbox page shows the rows."""

import sys

from notifications.channels.base import Backend, OutgoingMessage, SendResult
from notifications.models import Channel
from notifications.outbound import url_shown


class ConsoleBackend(Backend):
    def send(self, message: OutgoingMessage) -> SendResult:
        address = message.address
        if message.channel in (Channel.SLACK, Channel.WEBHOOK):
            address = url_shown(address)  # a hook's path is its secret; the terminal is a log
        lines = [
            f"--- {message.channel} to {address} ({message.urgency}) ---",
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

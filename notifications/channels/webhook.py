"""Generic webhooks: JSON, signed with HMAC-SHA256 over "<timestamp>.<body>"."""

import hashlib
import hmac
import json
import time
from typing import Any

from notifications.channels.base import Backend, OutgoingMessage, SendResult, post


def webhook_payload(message: OutgoingMessage) -> dict[str, Any]:
    return {
        "id": message.notification_id,
        "idempotency_key": message.idempotency_key,
        "urgency": message.urgency,
        "reason": message.reason,
        "subject_type": message.subject_type,
        "subject_id": message.subject_id,
        "subject": message.subject,
        "body": message.body,
        "ack_url": message.ack_url,
        "data": message.data,
    }


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class WebhookBackend(Backend):
    def send(self, message: OutgoingMessage) -> SendResult:
        body = json.dumps(webhook_payload(message), separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
            "X-Signature-Timestamp": timestamp,
            "X-Signature": webhook_signature(secret=message.secret, timestamp=timestamp, body=body),
        }
        response = post(message.address, user_given=True, content=body, headers=headers)
        return SendResult(provider_message_id=response.headers.get("X-Request-Id", ""))

"""Slack incoming webhooks: a block message with an acknowledge button (a link)."""

from typing import Any

from notifications.channels.base import Backend, OutgoingMessage, SendResult, post


def slack_payload(message: OutgoingMessage) -> dict[str, Any]:
    first_line = message.body.strip().splitlines()[0] if message.body.strip() else ""
    title = message.subject or first_line or "Notification"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{message.body}"}},
    ]
    if message.ack_url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Acknowledge"},
                        "url": message.ack_url,
                        "style": "primary",
                        "action_id": "acknowledge",
                    }
                ],
            }
        )
    return {"text": f"{title}: {message.body}"[:3000], "blocks": blocks}


class SlackBackend(Backend):
    def send(self, message: OutgoingMessage) -> SendResult:
        post(message.address, user_given=True, json=slack_payload(message))
        return SendResult()

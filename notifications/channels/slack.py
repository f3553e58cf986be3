"""Slack incoming webhooks: a block message with an acknowledge button (a link)."""

from typing import Any

from notifications.channels.base import Backend, OutgoingMessage, SendResult, post


def slack_escape(text: str) -> str:
    """Slack's control characters as entities: a title like "<!channel>" or "<https://x|y>"
    then pings nobody and links nowhere; it shows as typed. (Our own link is the button's
    `url`, never built into the text.)"""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(message: OutgoingMessage) -> dict[str, Any]:
    first_line = message.body.strip().splitlines()[0] if message.body.strip() else ""
    title = slack_escape(message.subject or first_line or "Notification")
    body = slack_escape(message.body)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{body}"}},
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
    return {"text": f"{title}: {body}"[:3000], "blocks": blocks}


class SlackBackend(Backend):
    def send(self, message: OutgoingMessage) -> SendResult:
        post(message.address, user_given=True, json=slack_payload(message))
        return SendResult()

"""Slack incoming webhooks: a block message with an acknowledge button (a link)."""

from typing import Any

from django.conf import settings

from notifications.channels.base import (
    Backend,
    OutgoingMessage,
    PermanentError,
    SendResult,
    TransientError,
    post,
)


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


class SlackUserGroupBackend(Backend):
    """Set a Slack user group's members (Web API `usergroups.users.update`, bot token).

    The row's address is the group's id; `data["users"]` the Slack member ids and
    `data["missing"]` the people without one, whom the failure names (the group is then
    left as it is: a partial group would hide who is on call). Slack answers 200 with
    `{"ok": false, "error": …}`; "ratelimited" is worth retrying, other errors are not.
    """

    def send(self, message: OutgoingMessage) -> SendResult:
        missing = message.data.get("missing") or []
        if missing:
            raise PermanentError(
                f"no Slack user id for {', '.join(missing)}: the group was not changed"
            )
        if not settings.SLACK_BOT_TOKEN:
            raise PermanentError("SLACK_BOT_TOKEN is not set")
        response = post(
            settings.SLACK_API_URL.rstrip("/") + "/usergroups.users.update",
            user_given=True,
            json={"usergroup": message.address, "users": ",".join(message.data.get("users", []))},
            headers={"Authorization": f"Bearer {settings.SLACK_BOT_TOKEN}"},
        )
        try:
            answer = response.json()
        except ValueError as error:
            raise TransientError("Slack answered something that is not JSON") from error
        if not isinstance(answer, dict) or not answer.get("ok"):
            code = str(answer.get("error", "unknown")) if isinstance(answer, dict) else "unknown"
            if code in {"ratelimited", "internal_error", "fatal_error", "service_unavailable"}:
                raise TransientError(f"Slack: {code}")
            raise PermanentError(f"Slack: {code}")
        return SendResult()

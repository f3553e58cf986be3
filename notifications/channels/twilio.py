"""SMS and voice through Twilio's REST API; signature checks for its callbacks."""

from collections.abc import Mapping
from xml.sax.saxutils import escape, quoteattr

import httpx
from django.conf import settings
from twilio.request_validator import RequestValidator

from notifications.channels.base import (
    Backend,
    OutgoingMessage,
    PermanentError,
    SendResult,
    one_line,
    post,
    printable_lines,
)

# Twilio error codes that say the number itself is wrong: never worth a retry.
SMS_BODY_LIMIT = 1500


def _api(path: str) -> str:
    base = settings.TWILIO_BASE_URL.rstrip("/")
    return f"{base}/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/{path}"


def _auth() -> httpx.BasicAuth:
    return httpx.BasicAuth(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)


def _sid(response: httpx.Response) -> str:
    try:
        return str(response.json().get("sid", ""))
    except (ValueError, AttributeError) as error:
        # The body is not repeated: whatever answered is shown nowhere but the debug log.
        raise PermanentError(
            f"Twilio answered HTTP {response.status_code} without JSON "
            f"({response.headers.get('Content-Type') or 'no content type'})"
        ) from error


def _twilio_error(response: httpx.Response) -> str:
    """Twilio's error code (e.g. 21211, an invalid number), the one useful word of its body."""
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return ""
    return f"Twilio error {code}" if isinstance(code, int) else ""


def _check_configured() -> None:
    if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM):
        raise PermanentError("Twilio is not configured (TWILIO_ACCOUNT_SID/AUTH_TOKEN/FROM)")


def sms_text(message: OutgoingMessage) -> str:
    text = printable_lines("\n".join(part for part in (message.subject, message.body) if part))
    if message.ack_url:
        suffix = f"\n{message.ack_label}: {message.ack_url}"
        return text[: SMS_BODY_LIMIT - len(suffix)] + suffix
    return text[:SMS_BODY_LIMIT]


def voice_twiml(message: OutgoingMessage) -> str:
    """Speak the summary twice and gather one keypress: 1 acknowledges.

    A call carrying several pages says how many and names the most urgent; 1 acknowledges all.
    """
    count = message.bundle_size
    if count > 1:
        top = str(message.data["bundle"][0]["subject"])
        spoken = f"You have {count} pages. The most urgent: {top}."
        prompt = f"Press 1 to acknowledge all {count}."
    else:
        spoken = " ".join(part for part in (message.subject, message.body) if part)
        prompt = "Press 1 to acknowledge."
    # Spoken text is one line of printable characters, XML-escaped: a title cannot add
    # elements (<Say>, <Gather>, <Dial>) or break the document with a control character.
    summary = escape(one_line(spoken)[:1000])
    prompt = prompt if message.voice_ack_url else ""
    say = f"<Say>{summary} {prompt}</Say>"
    if not message.voice_ack_url:
        return f"<Response>{say}</Response>"
    action = quoteattr(message.voice_ack_url)
    return (
        f'<Response><Gather numDigits="1" action={action} method="POST">{say}{say}</Gather>'
        "<Say>Goodbye.</Say></Response>"
    )


class TwilioSmsBackend(Backend):
    def send(self, message: OutgoingMessage) -> SendResult:
        _check_configured()
        form = {"To": message.address, "From": settings.TWILIO_FROM, "Body": sms_text(message)}
        if message.status_callback_url:
            form["StatusCallback"] = message.status_callback_url
        response = post(_api("Messages.json"), data=form, auth=_auth(), error_detail=_twilio_error)
        return SendResult(provider_message_id=_sid(response))


class TwilioVoiceBackend(Backend):
    def send(self, message: OutgoingMessage) -> SendResult:
        _check_configured()
        form = {"To": message.address, "From": settings.TWILIO_FROM, "Twiml": voice_twiml(message)}
        if message.status_callback_url:
            form["StatusCallback"] = message.status_callback_url
            form["StatusCallbackEvent"] = "completed"
        response = post(_api("Calls.json"), data=form, auth=_auth(), error_detail=_twilio_error)
        return SendResult(provider_message_id=_sid(response))


def twilio_signature_valid(*, url: str, params: Mapping[str, str], signature: str) -> bool:
    """Whether X-Twilio-Signature signs this callback, by the `twilio` library's own
    validator (it also knows Twilio's URL variants, with or without the default port)."""
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(url, dict(params), signature))

"""Secrets carried in URLs never reach a log line in full.

An Alertmanager integration key, an iCal feed token and an acknowledge token travel in the
path (`/integrations/alertmanager/<key>/`, `/ical/…/<token>.ics`, `/notifications/ack/<token>/`).
`mask_secrets` keeps the key's kind and its first four characters (`oncall_integration_abcd…`,
the prefix the admin shows), enough to tell keys apart.
`MaskSecrets` applies it to log records (django.request's "Not Found: /path", tracebacks,
runserver's access lines); `GunicornLogger` to gunicorn's access log (gunicorn.conf.py).
"""

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

_SECRET_IN_PATH = re.compile(
    r"(/integrations/alertmanager/|/ical/(?:rotation|person)/|/notifications/(?:ack|twilio/voice)/)"
    r"((?:oncall_[a-z]+_)?[^/?#\s\"'.]{4})[^/?#\s\"']*?(\.ics)?(?=[/?#\s\"']|$)"
)
_BEARER = re.compile(r"(Bearer\s+)((?:oncall_[a-z]+_)?[^\s\"']{4})[^\s\"']*", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """`text` with every secret path segment and bearer token cut to its first 4 characters."""
    text = _SECRET_IN_PATH.sub(lambda m: f"{m[1]}{m[2]}…{m[3] or ''}", text)
    return _BEARER.sub(r"\1\2…", text)


class MaskSecrets(logging.Filter):
    """Rewrites a record's message and traceback with the secrets masked (never drops it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        return True


class GunicornLogger(Logger):
    """Gunicorn's logger with every access-log atom (request line, path, referer, request
    headers) masked, and the Authorization header never printed."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        masked = {k: mask_secrets(v) if isinstance(v, str) else v for k, v in atoms.items()}
        if "{authorization}i" in masked:
            masked["{authorization}i"] = "-"
        return masked

"""Structured logs (issue 18 point 8): JSON lines in production, plain text on a laptop.

- `LOG_FORMAT` (`json` | `plain`) picks the console formatter (`logging_config` in settings).
- One line per request (`RequestLog`, first in MIDDLEWARE) on the `oncall.request` logger:
  method, path with its secrets masked, status, duration, user id and a request id, taken
  from `X-Request-ID` when it is sane, else generated, and echoed in the response header.
- One line per Celery task (`task_prerun`/`task_postrun` below) on `oncall.task`: name, id,
  state, duration and the ids it worked on. Ids come from the task's arguments by name
  (`notification_id`, `event_id`, `state_id`, `incident_id`) and from `bind_log_ids`, which a
  service calls when it learns one (the incident of a notification it delivers).
- The ids bound for the request or task ride on every line logged meanwhile (`LogContext`),
  so `request_id` or `incident_id` find every line of one request or page.
- Secrets: the JSON text of every line goes through `mask_secrets` (oncall/logmask.py), so a
  key in a path, a traceback or an extra field never reaches the log in full.
"""

import inspect
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from celery.signals import after_setup_logger, after_setup_task_logger, task_postrun, task_prerun
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from oncall.logmask import MaskSecrets, mask_secrets

LOG_FORMATS = ("json", "plain")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
request_logger = logging.getLogger("oncall.request")
task_logger = logging.getLogger("oncall.task")

_ids: ContextVar[dict[str, Any] | None] = ContextVar("oncall_log_ids", default=None)


def log_ids() -> dict[str, Any]:
    """The ids bound to what this thread is doing now (request id, incident, …)."""
    return dict(_ids.get() or {})


def bind_log_ids(**ids: Any) -> None:
    """Add ids (None ignored) to the current request's or task's log lines."""
    _ids.set({**(_ids.get() or {}), **{k: v for k, v in ids.items() if v is not None}})


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Bind ids for the duration of a block (a request, a task), then forget them."""
    token = _ids.set({k: v for k, v in ids.items() if v is not None})
    try:
        yield
    finally:
        _ids.reset(token)


class LogContext(logging.Filter):
    """Puts the bound ids on each record (a field in JSON; unused by the plain format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_ids.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, the bound ids
    and any `extra` fields; exceptions as `exc_info` text. The whole line is masked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", ["levelname", "name", "message"])
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        # Celery's records carry their arguments again as `data`: the message has them.
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "data", "color_message"])
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


def console_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(PLAIN_FORMAT)


# --- One line per request -----------------------------------------------------------------
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def _request_id(incoming: str | None) -> str:
    """The caller's X-Request-ID when it is a plain token (no spaces, quotes or newlines to
    forge log lines with), else a fresh one."""
    if incoming and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _user_id(request: HttpRequest) -> int | None:
    user = getattr(request, "user", None)
    # Never load the user only to log it: a request that did not need them has none.
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return user.pk if user.is_authenticated else None


class RequestLog:
    """Middleware (first in MIDDLEWARE): the request id, and one line per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _request_id(request.headers.get("X-Request-ID"))
        started = time.perf_counter()
        with log_context(request_id=request_id):
            response = self.get_response(request)
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            response["X-Request-ID"] = request_id
            path = mask_secrets(request.path)
            request_logger.info(
                "%s %s %s %sms",
                request.method,
                path,
                response.status_code,
                duration_ms,
                extra={
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                    "user_id": _user_id(request),
                },
            )
        return response


# --- One line per Celery task -------------------------------------------------------------
# A task argument's name → the field its value is logged as.
TASK_ID_ARGUMENTS = {
    "incident_id": "incident_id",
    "notification_id": "notification_id",
    "event_id": "inbound_event_id",
    "state_id": "escalation_state_id",
}
_started: ContextVar[tuple[float, Any] | None] = ContextVar("oncall_task_started", default=None)


def task_argument_ids(run: Callable[..., Any], args: Any, kwargs: Any) -> dict[str, Any]:
    """The ids among a task's arguments, by parameter name (positional or keyword)."""
    try:
        bound = inspect.signature(run).bind_partial(*(args or ()), **(kwargs or {}))
    except (TypeError, ValueError):
        return {}
    return {
        field: bound.arguments[name]
        for name, field in TASK_ID_ARGUMENTS.items()
        if isinstance(bound.arguments.get(name), int | str)
    }


@task_prerun.connect
def _task_started(
    task_id: str | None = None, task: Any = None, args: Any = None, kwargs: Any = None, **_: Any
) -> None:
    ids = task_argument_ids(task.run, args, kwargs) if task is not None else {}
    token = _ids.set({"task_id": task_id, **ids})
    _started.set((time.perf_counter(), token))


@task_postrun.connect
def _task_finished(
    task_id: str | None = None,
    task: Any = None,
    retval: Any = None,
    state: str | None = None,
    **_: Any,
) -> None:
    started = _started.get()
    duration_ms = round((time.perf_counter() - started[0]) * 1000, 1) if started else None
    name = getattr(task, "name", "?")
    ids = log_ids()
    ids.pop("task_id", None)
    # A periodic sweep that found nothing is DEBUG (every few seconds); anything else INFO.
    from oncall.celery import periodic_task_names

    idle = state == "SUCCESS" and not retval and name in periodic_task_names()
    task_logger.log(
        logging.DEBUG if idle else logging.INFO,
        "task %s %s %s %sms",
        name,
        task_id,
        state,
        duration_ms,
        extra={"task": name, "state": state, "duration_ms": duration_ms, **ids},
    )
    if started:
        try:
            _ids.reset(started[1])
        except ValueError:  # started in another context (should not happen): forget all
            _ids.set(None)
        _started.set(None)


def _structure_celery_handlers(logger: logging.Logger | None = None, **_: Any) -> None:
    """Celery replaces the root (and task) logger's handlers in worker and beat: give its
    handlers our filters, and the JSON formatter when LOG_FORMAT is json."""
    from django.conf import settings

    if logger is None:
        return
    for handler in logger.handlers:
        if not any(isinstance(f, MaskSecrets) for f in handler.filters):
            handler.addFilter(MaskSecrets())
        if not any(isinstance(f, LogContext) for f in handler.filters):
            handler.addFilter(LogContext())
        if getattr(settings, "LOG_FORMAT", "plain") == "json":
            handler.setFormatter(JsonFormatter())


after_setup_logger.connect(_structure_celery_handlers, weak=False)
after_setup_task_logger.connect(_structure_celery_handlers, weak=False)

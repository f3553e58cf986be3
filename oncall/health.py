"""Health of the parts the portal needs: database, broker, beat (and the worker it feeds)."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from oncall.celery import app as celery_app
from oncall.models import Heartbeat

BEAT_HEARTBEAT = "beat"


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "detail": self.detail}


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return Check(False, f"{type(error).__name__}: {error}")
    return Check(True, connection.vendor)


def check_broker() -> Check:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as error:
        return Check(False, f"{type(error).__name__}: {error}")
    return Check(True, str(transport))


def check_beat(now: datetime | None = None) -> Check:
    now = now or timezone.now()
    try:
        beat = Heartbeat.objects.filter(name=BEAT_HEARTBEAT).values_list("at", flat=True).first()
    except Exception as error:
        return Check(False, f"{type(error).__name__}: {error}")
    if beat is None:
        return Check(False, "no heartbeat yet")
    age: timedelta = now - beat
    max_age: timedelta = settings.HEARTBEAT_MAX_AGE
    seconds = round(age.total_seconds(), 1)
    if age > max_age:
        return Check(False, f"last heartbeat {seconds}s ago (limit {max_age.total_seconds():.0f}s)")
    return Check(True, f"last heartbeat {seconds}s ago")


def runner_restarts() -> dict[str, int] | None:
    """How often `make run`'s supervisor (oncall/runner.py) restarted each process, if it runs."""
    try:
        state = json.loads((Path(settings.VAR_DIR) / "runner.json").read_text())
        return {name: int(p["restarts"]) for name, p in state["processes"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


# Checks of the apps above (monitoring's self-checks: engine, outbox, ingestion), registered
# at ready time; this core module imports no app.
_extra_checks: dict[str, Callable[[], Check]] = {}


def register_health_check(name: str, check: Callable[[], Check]) -> None:
    """/healthz also runs `check()` under `name`; a check that raises counts as failing."""
    _extra_checks[name] = check


def _run_extra(check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as error:
        return Check(False, f"{type(error).__name__}: {error}")


def health_report() -> tuple[bool, dict[str, object]]:
    checks = {"database": check_database(), "broker": check_broker(), "beat": check_beat()}
    checks.update({name: _run_extra(check) for name, check in _extra_checks.items()})
    healthy = all(c.ok for c in checks.values())
    report: dict[str, object] = {
        "status": "ok" if healthy else "unhealthy",
        "checks": {name: c.as_dict() for name, c in checks.items()},
    }
    restarts = runner_restarts()
    if restarts is not None:  # informative: a restarted process is up again, or the checks say
        report["restarts"] = restarts
    return healthy, report


def heartbeat_record(*, name: str = BEAT_HEARTBEAT) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now()})

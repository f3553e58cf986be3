"""Soak: the embedded stack of `make run` under load, with beat firing every second.

The whole of `make run` — `python -m oncall.runner Procfile.dev` with the embedded SQLite
database and the file broker in a fresh VAR_DIR — runs for SOAK_SECONDS (60 by default; CI
sets several minutes) while incidents are declared through the API and the Events v2 door
every few seconds, some acknowledged and some resolved. Beat sends every sweep and the
heartbeat each second, so the broker sees hundreds of messages a minute (the stock file
transport crashed the worker with JSONDecodeError after about ten minutes of the default
rate). It fails on any crash or restart, any traceback in the log, any page due before the
end that was not sent, and any escalation step left overdue; it prints the figures.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
DECLARE_EVERY = 3.0
STEP_WAIT_SECONDS = 20
# Settled: a page created or a step due this long before the stop must have happened by then
# (the longest storm interval, the bundle window and a few sweeps of beat).
SETTLE_SECONDS = 40
# Storm control in the soak: at most one SMS per 10 s and one call per 20 s to an address.
STORM = {
    "NOTIFY_MIN_INTERVAL_SMS": "10",
    "NOTIFY_MIN_INTERVAL_VOICE": "20",
    "NOTIFY_BUNDLE_WINDOW_SMS": "5",
    "NOTIFY_BUNDLE_WINDOW_VOICE": "5",
}
# The aim: no page later than one interval plus the bundle window (and a beat sweep or two).
LATENESS_BOUND = 20 + 5 + 5

SETUP = """
import json
from datetime import timedelta
from django.contrib.auth.models import Group
from django.utils import timezone
from integrations.services import integration_create
from notifications.models import ContactMethod
from notifications.services import notification_defaults_ensure
from oncall.api.services import api_key_create
from oncall.models import User
from rotations.models import EscalationPolicy, EscalationStep, StepAction, Team

manager = User.objects.create_user("soak-manager", email="m@example.com", password="soak")
manager.groups.add(Group.objects.get(name="Manager"))
first = User.objects.create_user("soak-first", email="first@example.com", phone="+14155552671")
second = User.objects.create_user("soak-second", email="second@example.com", phone="+14155552672")
team = Team.objects.create(slug="soak", name="Soak")
policy = EscalationPolicy.objects.create(team=team, name="Soak policy")
for position, user in enumerate((first, second)):
    step = EscalationStep.objects.create(
        policy=policy, position=position, action=StepAction.USERS, wait=timedelta(seconds=WAIT)
    )
    step.users.set([user])
for user in (first, second):
    for channel, address in (("email", user.email), ("sms", user.phone), ("voice", user.phone)):
        ContactMethod.objects.create(
            user=user, channel=channel, address=address, verified_at=timezone.now()
        )
    notification_defaults_ensure(user=user)
integration, key = integration_create(team=team, name="Soak monitor", type="events_v2", actor=manager)
print(json.dumps({
    "api_key": api_key_create(user=manager, name="soak").secret,
    "routing_key": key,
    "team": team.pk,
}))
"""

REPORT = """
import json
from datetime import timedelta
from django.db.models import Count
from django.utils import timezone
from incidents.models import EscalationState, Incident
from notifications.models import Notification

import datetime as dt
stopped = dt.datetime.fromtimestamp(STOPPED, tz=dt.UTC)
settled = stopped - timedelta(seconds=SETTLE)
rows = list(Notification.objects.exclude(subject_type="").select_related("bundled_into"))
def delivered_at(row):
    if row.bundled_into_id and row.bundled_into:
        return row.bundled_into.sent_at
    return row.sent_at
def due(row):  # a rule's delay ("call 2 minutes after the text") is not lateness
    return row.due_at or row.created_at
late = [
    (delivered_at(r) - due(r)).total_seconds()
    for r in rows if r.status == "sent" and delivered_at(r)
]
# Storm control may hold a page back at most one interval plus the bundle window: a page
# due before `settled` must have gone out (alone or carried by another message).
unsent = [
    {"key": r.idempotency_key, "status": r.status, "channel": r.channel, "error": r.last_error,
     "due": due(r).isoformat(), "not_before": str(r.not_before)}
    for r in rows if r.status in ("pending", "sending", "failed") and due(r) < settled
]
overdue_steps = EscalationState.objects.filter(
    status="active", next_action_at__lt=settled
).count()
print(json.dumps({
    "incidents": Incident.objects.count(),
    "by_status": dict(Incident.objects.values_list("status").annotate(n=Count("id"))),
    "pages": len(rows),
    "pages_by_status": dict(
        Notification.objects.exclude(subject_type="").values_list("status").annotate(n=Count("id"))
    ),
    "messages_sent": Notification.objects.filter(status="sent", bundled_into=None).count(),
    "worst_lateness_seconds": max(late, default=0),
    "unsent_due": unsent[:20],
    "unsent_due_count": len(unsent),
    "overdue_steps": overdue_steps,
}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_", "TEST_", "DJANGO_"))
    }
    port = free_port()
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "oncall.settings.local",
        "VAR_DIR": str(tmp_path / "var"),
        "PORT": str(port),
        "SITE_URL": f"http://127.0.0.1:{port}",
        "NOTIFY_CONSOLE": "1",
        "LOG_LEVEL": "INFO",
        # Beat at a high frequency: every sweep and the heartbeat each second.
        "HEARTBEAT_INTERVAL_SECONDS": "1",
        "NOTIFY_SWEEP_SECONDS": "1",
        "ESCALATION_SWEEP_SECONDS": "1",
        "INCIDENT_TIMERS_SWEEP_SECONDS": "1",
        "INGEST_SWEEP_SECONDS": "1",
        **STORM,
    }


def test_the_embedded_stack_survives_a_soak_and_sends_every_page(stack_env, tmp_path) -> None:
    env = stack_env
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    keys = json.loads(
        manage(env, "shell", "-v0", "-c", SETUP.replace("WAIT", str(STEP_WAIT_SECONDS)))
    )
    base = f"http://127.0.0.1:{env['PORT']}"
    log_path = tmp_path / "run.log"
    runner = subprocess.Popen(
        [sys.executable, "-m", "oncall.runner", "Procfile.dev"],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    api = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {keys['api_key']}"}, timeout=30
    )
    declared: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if api.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"never healthy:\n{log_path.read_text()[-3000:]}"
            assert runner.poll() is None, f"runner exited:\n{log_path.read_text()[-3000:]}"
            time.sleep(0.5)

        started = time.monotonic()
        number = 0
        while time.monotonic() - started < SOAK_SECONDS:
            number += 1
            if number % 2:
                response = api.post(
                    "/api/v1/incidents/",
                    json={"title": f"Soak {number}", "severity": "SEV2", "team": "soak"},
                )
                assert response.status_code == 201, response.text
                declared.append(response.json()["id"])
            else:
                response = api.post(
                    "/v2/enqueue",
                    json={
                        "routing_key": keys["routing_key"],
                        "event_action": "trigger",
                        "dedup_key": f"soak-{number}",
                        "payload": {
                            "summary": f"Soak alert {number}",
                            "source": "soak",
                            "severity": "error",
                        },
                    },
                )
                assert response.status_code == 202, response.text
            # Some are answered, as people would: acknowledge one, resolve another.
            if number % 5 == 0 and declared:
                api.post(f"/api/v1/incidents/{declared[-1]}/acknowledge/", json={})
            if number % 7 == 0 and len(declared) > 1:
                api.post(f"/api/v1/incidents/{declared[-2]}/resolve/", json={"note": "soak"})
            assert runner.poll() is None, f"runner exited:\n{log_path.read_text()[-3000:]}"
            time.sleep(DECLARE_EVERY)
        time.sleep(SETTLE_SECONDS)  # let what is due now go out
        health = api.get("/healthz").json()
        stopped = time.time()
    finally:
        api.close()
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=60)

    log = log_path.read_text()
    report = json.loads(
        manage(
            env,
            "shell",
            "-v0",
            "-c",
            REPORT.replace("SETTLE", str(SETTLE_SECONDS)).replace("STOPPED", repr(stopped)),
        )
    )
    state = json.loads((Path(env["VAR_DIR"]) / "runner.json").read_text())["processes"]
    print(  # the figures, for the closing note
        f"\nSOAK {SOAK_SECONDS:.0f}s: {number} incidents declared, {report['pages']} pages, "
        f"{report['messages_sent']} messages, worst lateness "
        f"{report['worst_lateness_seconds']:.1f}s, restarts "
        f"{sum(p['restarts'] for p in state.values())}\n{json.dumps(report, indent=1)}"
    )
    assert health["status"] == "ok", health
    assert {name: p["restarts"] for name, p in state.items()} == {
        "web": 0,
        "worker": 0,
        "beat": 0,
    }, log[-5000:]
    for sign in ("STOPPED UNEXPECTEDLY", "Unrecoverable error", "Traceback", "JSONDecodeError"):
        assert sign not in log, f"{sign!r} in the log:\n{log[-5000:]}"
    assert report["incidents"] == number
    assert report["pages"] > number  # every incident paged, several more than once
    assert report["unsent_due_count"] == 0, report["unsent_due"]
    assert report["overdue_steps"] == 0
    assert report["worst_lateness_seconds"] <= LATENESS_BOUND

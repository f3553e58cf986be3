"""The integrations app above incidents: import direction, task names, tables, permissions."""

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission

from oncall.celery import app as celery_app
from oncall.roles import MANAGER

ROOT = Path(__file__).resolve().parents[2]
BELOW = ("incidents", "notifications", "rotations", "oncall")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_app_below_imports_the_integrations() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for app in BELOW
        for path in (ROOT / app).rglob("*.py")
        for name in _imports(path)
        if name == "integrations" or name.startswith("integrations.")
    ]
    assert offenders == []


def test_the_app_is_installed_after_incidents() -> None:
    labels = [apps.get_app_config(label).name for label in ("incidents", "integrations")]
    order = [a.name for a in apps.get_app_configs()]
    assert order.index(labels[0]) < order.index(labels[1])


def test_the_ingest_tasks_keep_their_names_routes_and_beat_entry() -> None:
    import integrations.tasks  # noqa: F401  (what the worker's autodiscovery imports)

    for name in ("incidents.ingest_process", "incidents.ingest_drain", "incidents.ingest_sweep"):
        assert celery_app.tasks[name].__module__ == "integrations.tasks"
        assert settings.CELERY_TASK_ROUTES[name] == {"queue": "ingest"}
    beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "incidents.ingest_sweep" in beat


def test_the_models_keep_their_tables() -> None:
    tables = {
        m._meta.model_name: m._meta.db_table
        for m in apps.get_app_config("integrations").get_models()
    }
    assert tables == {
        name: f"incidents_{name}"
        for name in (
            "integration",
            "ingestwindow",
            "inboundevent",
            "alertgroup",
            "alert",
            "webhooksubscription",
        )
    } | {"heartbeatmonitor": "integrations_heartbeatmonitor"}  # new here, not moved


@pytest.mark.django_db
def test_managers_keep_their_permissions_under_the_new_label() -> None:
    granted = set(
        Group.objects.get(name=MANAGER)
        .permissions.filter(content_type__app_label="integrations")
        .values_list("codename", flat=True)
    )
    assert {"change_integration", "view_inboundevent", "add_webhooksubscription"} <= granted
    assert "change_inboundevent" not in granted
    stale = Permission.objects.filter(
        content_type__app_label="incidents", content_type__model="integration"
    )
    assert not stale.exists()

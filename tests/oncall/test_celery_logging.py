"""Periodic task chatter is DEBUG, every other task's lines stay INFO (quiet `make run`)."""

import logging

import pytest

from oncall.celery import PeriodicChatter


def record(name: str, msg: str, args: object = None, data: dict | None = None) -> logging.LogRecord:
    made = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)  # type: ignore[arg-type]
    if data is not None:
        made.data = data
    return made


@pytest.fixture
def at_info():
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.INFO)
    yield
    root.setLevel(previous)


def test_beat_sending_a_periodic_sweep_is_dropped_at_info(at_info) -> None:
    line = record(
        "celery.beat",
        "Scheduler: Sending due task %s (%s)",
        ("escalation-sweep", "incidents.escalation_sweep"),
    )
    assert PeriodicChatter().filter(line) is False
    assert line.levelname == "DEBUG"


def test_the_worker_lines_of_a_periodic_task_are_dropped_and_a_page_is_kept(at_info) -> None:
    sweep = record(
        "celery.app.trace", "Task %(name)s succeeded", data={"name": "notifications.sweep"}
    )
    page = record(
        "celery.app.trace", "Task %(name)s succeeded", data={"name": "notifications.deliver.sms"}
    )
    assert PeriodicChatter().filter(sweep) is False
    assert PeriodicChatter().filter(page) is True
    assert page.levelname == "INFO"


def test_at_debug_the_periodic_lines_are_shown_as_debug() -> None:
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    try:
        line = record(
            "celery.worker.strategy", "Task %(name)s received", data={"name": "oncall.heartbeat"}
        )
        assert PeriodicChatter().filter(line) is True
        assert line.levelno == logging.DEBUG
    finally:
        root.setLevel(previous)


def test_pages_printed_by_the_console_channel_are_logged_as_info_not_warnings() -> None:
    from oncall.celery import app

    assert app.conf.worker_redirect_stdouts_level == "INFO"

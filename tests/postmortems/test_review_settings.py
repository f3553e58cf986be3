"""The review's settings are read from the environment and checked at start-up: an unknown
zone, weekday or time stops Django with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READ = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.COMPANY_TIME_ZONE, s.REVIEW_MEETING_WEEKDAY, s.REVIEW_MEETING_TIME, "
    "s.REVIEW_MEETING_MINUTES)"
)


def start(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "oncall.settings.test", **env}
    return subprocess.run(
        [sys.executable, "-c", READ], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_defaults_and_overrides() -> None:
    assert start().stdout.split() == ["America/New_York", "3", "15:00:00", "60"]
    changed = start(
        COMPANY_TIME_ZONE="Europe/Berlin",
        REVIEW_MEETING_WEEKDAY="Tuesday",
        REVIEW_MEETING_TIME="09:30",
        REVIEW_MEETING_MINUTES="45",
    )
    assert changed.stdout.split() == ["Europe/Berlin", "1", "09:30:00", "45"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COMPANY_TIME_ZONE", "Mars/Olympus_Mons"),
        ("COMPANY_TIME_ZONE", ""),
        ("REVIEW_MEETING_WEEKDAY", "someday"),
        ("REVIEW_MEETING_TIME", "25:00"),
        ("REVIEW_MEETING_MINUTES", "0"),
    ],
)
def test_a_bad_value_stops_start_up_naming_it(name: str, value: str) -> None:
    result = start(**{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr

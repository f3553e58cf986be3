"""The demo seed's on-call reports: past shifts submitted with their handoffs acknowledged,
each running shift a draft, each row dated when it happened, written once however often
`seed_demo` runs."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from reports.models import OnCallReport, ReportStatus

pytestmark = pytest.mark.django_db


def seed() -> None:
    call_command("seed_demo", stdout=io.StringIO())


def state() -> dict[int, tuple[object, ...]]:
    return {
        r.pk: (r.status, r.user_id, r.summary, r.submitted_at, r.handoff_acknowledged_at)
        for r in OnCallReport.objects.all()
    }


def test_past_shifts_are_submitted_and_running_ones_are_drafts_once() -> None:
    seed()
    first = state()
    seed()
    assert state() == first

    now = timezone.now()
    reports = list(OnCallReport.objects.all())
    past = [r for r in reports if r.shift_end <= now]
    running = [r for r in reports if r.shift_start <= now < r.shift_end]
    assert len(past) >= 4
    assert running
    for report in past:
        assert report.status == ReportStatus.SUBMITTED
        assert report.summary
        assert report.stats  # frozen on submit
        assert report.submitted_at is not None
        # Submitted at the end of the shift it reports on, not when the seed ran.
        assert report.shift_start < report.submitted_at < report.shift_end
        assert report.created_at == report.shift_start
    acknowledged = [r for r in past if r.handoff_acknowledged_at is not None]
    assert acknowledged
    for report in acknowledged:
        assert report.handoff_acknowledged_at is not None
        assert report.shift_end < report.handoff_acknowledged_at < now
    assert all(r.status == ReportStatus.DRAFT for r in running)
    assert any(r.summary for r in running)

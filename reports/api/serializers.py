"""Input and output shapes of the on-call reports API (names per issue 15's Contract)."""

from datetime import timedelta
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.models import TEXT_MAX, Severity
from incidents.models import Status as IncidentStatus
from oncall.api.fields import ISODurationField
from reports.models import OFF_HOURS_MAX, Effort, OnCallReport, ReportStatus
from reports.stats import ROLES

TAGS = ["oncall-reports"]
WRITE_ERRORS = (400, 401, 403, 404, 413, 415)


class ReportIncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(help_text="INC-<id>.")
    title = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    status = serializers.ChoiceField(choices=IncidentStatus.choices)
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=[(r, r) for r in ROLES]),
        help_text="What the person did during the shift; `open`: still open at its end "
        "(or now, while it runs).",
    )


class ReportStatsSerializer(serializers.Serializer):
    pages = serializers.IntegerField()
    business_hours_pages = serializers.IntegerField()
    off_hours_pages = serializers.IntegerField()
    sleep_hours_pages = serializers.IntegerField()
    incidents = ReportIncidentSerializer(many=True)
    engaged = ISODurationField(help_text="Acknowledged to resolved, summed (ISO 8601).")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        stats = dict(instance)
        stats["engaged"] = timedelta(seconds=int(stats.get("engaged_seconds", 0)))
        return super().to_representation(stats)


class OnCallReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rotation = serializers.IntegerField(source="rotation_id")
    team = serializers.CharField(source="rotation.team.slug", help_text="The team's slug.")
    user = serializers.IntegerField(source="user_id", help_text="Whose shift it is.")
    shift_start = serializers.DateTimeField()
    shift_end = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=ReportStatus.choices)
    summary = serializers.CharField(help_text="Markdown: what happened.")
    ongoing = serializers.CharField(help_text="Markdown: incidents still open, their state.")
    unplanned = serializers.CharField(help_text="Markdown: unplanned requests and blockers.")
    engineering = serializers.CharField(help_text="Markdown: better-engineering tasks.")
    handoff_notes = serializers.CharField(help_text="Markdown: for the next on-call.")
    effort = serializers.ChoiceField(
        choices=[*Effort.choices, ("", "not given")], help_text="Empty until given."
    )
    off_hours_spent = serializers.DecimalField(
        max_digits=5, decimal_places=1, allow_null=True, coerce_to_string=False
    )
    submitted_at = serializers.DateTimeField(allow_null=True)
    handoff_acknowledged_at = serializers.DateTimeField(allow_null=True)
    stats = serializers.SerializerMethodField(
        help_text="Facts from the record: live while a draft, frozen on submit."
    )

    @extend_schema_field(ReportStatsSerializer)
    def get_stats(self, report: OnCallReport) -> dict[str, Any]:
        facts = self.context.get("stats", {}).get(report.pk, report.stats)
        return dict(ReportStatsSerializer(facts).data)


class ReportUpdateSerializer(serializers.Serializer):
    summary = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    ongoing = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    unplanned = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    engineering = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    handoff_notes = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    effort = serializers.ChoiceField(choices=Effort.choices, required=False)
    off_hours_spent = serializers.DecimalField(
        max_digits=5,
        decimal_places=1,
        min_value=0,
        max_value=OFF_HOURS_MAX,
        required=False,
        allow_null=True,
        help_text="Hours; null clears it.",
    )


class EmptySerializer(serializers.Serializer):
    """No body (an empty JSON object)."""

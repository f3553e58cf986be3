"""`GET /api/v1/insights/`: the insights page's figures for dashboards and scripts
(durations as ISO 8601). Everyone signed in reads them."""

from datetime import timedelta
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Severity
from insights.forms import RANGE_MAX_DAYS, today_in
from insights.selectors import DEFINITIONS, Filters, day_start, insights
from integrations.models import Integration
from oncall.api.errors import error_responses
from oncall.api.fields import ISODurationField
from oncall.api.permissions import signed_in
from oncall.validators import validate_instant_range
from rotations.models import Team

DEFAULT_DAYS = 30


class InsightsQuerySerializer(serializers.Serializer):
    team = serializers.SlugField(required=False, help_text="A team's slug; absent: every team.")
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    integration = serializers.IntegerField(
        required=False, min_value=1, help_text="An integration's id (the service that alerted)."
    )
    tier = serializers.ChoiceField(
        choices=(("veteran", "veteran"), ("new", "new")),
        required=False,
        help_text="Only pages to this tier, and incidents that paged it.",
    )
    # "from" is a Python keyword: declared in the constructor.

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"] = serializers.DateField(
            required=False,
            validators=[validate_instant_range],
            help_text=f"First day, in your time zone (default: {DEFAULT_DAYS} days before `to`).",
        )
        self.fields["to"] = serializers.DateField(
            required=False,
            validators=[validate_instant_range],
            help_text="Last day, included, in your time zone (default: today).",
        )

    def validate_team(self, value: str) -> Team:
        team = Team.objects.filter(slug=value).first()
        if team is None:
            raise serializers.ValidationError(f"No team has the slug {value!r}.")
        return team

    def validate_integration(self, value: int) -> Integration:
        integration = Integration.objects.filter(pk=value).first()
        if integration is None:
            raise serializers.ValidationError(f"No integration has the id {value}.")
        return integration

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        today = self.context["today"]
        end = attrs.get("to") or today
        start = attrs.get("from") or end - timedelta(days=DEFAULT_DAYS - 1)
        if end < start:
            raise serializers.ValidationError({"to": "The end comes before the start."})
        if (end - start).days + 1 > RANGE_MAX_DAYS:
            raise serializers.ValidationError({"to": f"At most {RANGE_MAX_DAYS} days at once."})
        attrs["from"], attrs["to"] = start, end
        return attrs


def _duration(help_text: str) -> ISODurationField:
    return ISODurationField(allow_null=True, help_text=help_text)


class InterruptionsSerializer(serializers.Serializer):
    business = serializers.IntegerField(help_text="In the recipient's business hours.")
    off_hours = serializers.IntegerField(help_text="Outside business hours, not asleep.")
    sleep_hours = serializers.IntegerField(help_text="22:00–08:00 in the recipient's zone.")


class NoiseSerializer(serializers.Serializer):
    unacknowledged_quick_resolves = serializers.IntegerField(
        help_text="Resolved within 5 minutes without an acknowledgement."
    )
    not_actionable = serializers.IntegerField(help_text='Marked "not actionable".')


class TierSerializer(serializers.Serializer):
    pages = serializers.IntegerField(help_text="Interruptions sent on this tier's track.")
    acknowledged = serializers.IntegerField(
        help_text="Incidents acknowledged by someone this tier paged for them."
    )
    ended_with_veteran = serializers.IntegerField(
        allow_null=True,
        help_text="New tier: incidents it was paged for that someone it did not page "
        "acknowledged. Null for the veteran tier.",
    )


class TiersSerializer(serializers.Serializer):
    veteran = TierSerializer()
    new = TierSerializer()


class PersonSerializer(serializers.Serializer):
    user = serializers.IntegerField(help_text="The person's id.")
    name = serializers.CharField()
    pages = serializers.IntegerField(help_text="Interruptions (deduplicated SMS and voice pages).")
    sleep_hours_pages = serializers.IntegerField()
    acknowledged = serializers.IntegerField(help_text="Incidents of the range they acknowledged.")
    hours_on_call = ISODurationField(help_text="On call within the range (overrides included).")


class WeekSerializer(serializers.Serializer):
    week = serializers.DateTimeField(help_text="Monday 00:00 in your time zone.")
    incidents = serializers.IntegerField()
    mtta = _duration("Mean time to acknowledge of the week's incidents.")
    mttr = _duration("Mean time to resolve of the week's incidents.")


class PreviousSerializer(serializers.Serializer):
    incidents = serializers.IntegerField()
    acknowledged = serializers.IntegerField()
    resolved = serializers.IntegerField()
    escalated = serializers.IntegerField()
    mtta = _duration("Mean time to acknowledge.")
    mtta_median = _duration("Median time to acknowledge.")
    mtta_p90 = _duration("90th percentile of the time to acknowledge.")
    mttr = _duration("Mean time to resolve.")
    mttr_median = _duration("Median time to resolve.")
    mttr_p90 = _duration("90th percentile of the time to resolve.")
    triage = _duration("Mean time to triage.")
    noise = NoiseSerializer()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"] = serializers.DateTimeField(help_text="Start of the period.")
        self.fields["to"] = serializers.DateTimeField(help_text="End of the period (excluded).")


class InsightsSerializer(serializers.Serializer):
    incidents = serializers.IntegerField(help_text="Incidents triggered in the range.")
    acknowledged = serializers.IntegerField()
    resolved = serializers.IntegerField()
    escalated = serializers.IntegerField(help_text=DEFINITIONS["escalated"])
    mtta = _duration(DEFINITIONS["mtta"])
    mtta_median = _duration("Median time to acknowledge.")
    mtta_p90 = _duration("90th percentile of the time to acknowledge.")
    mttr = _duration(DEFINITIONS["mttr"])
    mttr_median = _duration("Median time to resolve.")
    mttr_p90 = _duration("90th percentile of the time to resolve.")
    triage = _duration(DEFINITIONS["triage"])
    interruptions = InterruptionsSerializer(help_text=DEFINITIONS["interruptions"])
    noise = NoiseSerializer(help_text=DEFINITIONS["noise"])
    tiers = TiersSerializer(help_text=DEFINITIONS["tiers"])
    people = PersonSerializer(many=True)
    weeks = WeekSerializer(many=True, help_text="The weekly trend.")
    previous = PreviousSerializer(
        help_text="The previous period of the same length, for the change: its range and the "
        "same headline figures."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"] = serializers.DateTimeField(help_text="Start of the range.")
        self.fields["to"] = serializers.DateTimeField(help_text="End of the range (excluded).")


def headline_body(h: Any) -> dict[str, Any]:
    return {
        "incidents": h.incidents,
        "acknowledged": h.acknowledged,
        "resolved": h.resolved,
        "escalated": h.escalated,
        "mtta": h.mtta,
        "mtta_median": h.mtta_median,
        "mtta_p90": h.mtta_p90,
        "mttr": h.mttr,
        "mttr_median": h.mttr_median,
        "mttr_p90": h.mttr_p90,
        "triage": h.triage,
        "noise": {
            "unacknowledged_quick_resolves": h.unacknowledged_quick_resolves,
            "not_actionable": h.not_actionable,
        },
    }


class InsightsApi(APIView):
    @extend_schema(
        operation_id="insights_retrieve",
        summary="MTTA, MTTR, pager load and noise for a range and filters",
        description="\n\n".join(DEFINITIONS.values()),
        parameters=[InsightsQuerySerializer],
        responses={200: InsightsSerializer, **error_responses(400, 401, 403)},
        tags=["insights"],
    )
    def get(self, request: Request) -> Response:
        zone = signed_in(request).tzinfo
        query = InsightsQuerySerializer(
            data=request.query_params, context={"today": today_in(zone)}
        )
        query.is_valid(raise_exception=True)
        data = dict(query.validated_data)
        filters = Filters(
            start=day_start(data["from"], zone),
            end=day_start(data["to"] + timedelta(days=1), zone),
            team_id=data["team"].pk if data.get("team") else None,
            severity=data.get("severity", ""),
            integration_id=data["integration"].pk if data.get("integration") else None,
            tier=data.get("tier", ""),
        )
        found = insights(filters, zone=zone)
        prev_start, prev_end = filters.previous
        body = {
            "from": filters.start,
            "to": filters.end,
            **headline_body(found.headline),
            "interruptions": {
                "business": found.interruptions["business"],
                "off_hours": found.interruptions["off"],
                "sleep_hours": found.interruptions["sleep"],
            },
            "tiers": {
                name: {
                    "pages": t.pages,
                    "acknowledged": t.acknowledged,
                    "ended_with_veteran": t.ended_with_veteran,
                }
                for name, t in found.tiers.items()
            },
            "people": [
                {
                    "user": row.user.pk,
                    "name": row.user.name,
                    "pages": row.pages,
                    "sleep_hours_pages": row.sleep_hours,
                    "acknowledged": row.acknowledged,
                    "hours_on_call": row.hours_on_call,
                }
                for row in found.people
            ],
            "weeks": [
                {"week": w.week, "incidents": w.incidents, "mtta": w.mtta, "mttr": w.mttr}
                for w in found.weeks
            ],
        }
        body["previous"] = {"from": prev_start, "to": prev_end, **headline_body(found.previous)}
        return Response(InsightsSerializer(body).data)

"""`GET /api/v1/reviews/<YYYY>-W<ww>/`: the weekly review as JSON, from the same
`postmortems.review.weekly_review` the page shows, plus the meeting; `PATCH` writes the
meeting with the `version` read (409 `version_conflict` when stale)."""

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.models import TEXT_MAX, Severity
from insights.api import PreviousSerializer, headline_body
from insights.selectors import Filters
from oncall.api.errors import Conflict, ErrorSerializer, error_responses
from oncall.api.fields import ISODurationField
from oncall.api.inputs import validated_body
from oncall.api.permissions import signed_in
from oncall.markup import markdown_safe
from oncall.models import User
from postmortems import meetings
from postmortems.api import serializers as s
from postmortems.api.views import PostmortemApiView
from postmortems.models import PostmortemStatus, ReviewMeeting
from postmortems.review import IsoWeek, review_meetings, weekly_review
from rotations.services import active_user

TAGS = ["reviews"]
WEEK_PARAMETER = OpenApiParameter(
    "week",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="An ISO week in the company's time zone, e.g. 2026-W11 (years 2000–2199).",
    pattern=r"^[0-9]{4}-W[0-9]{2}$",
)


class FiguresSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    acknowledged = serializers.IntegerField(help_text="How many of them were acknowledged.")
    resolved = serializers.IntegerField()
    time_to_acknowledge_mean = ISODurationField(source="ack_mean", allow_null=True)
    time_to_acknowledge_median = ISODurationField(source="ack_median", allow_null=True)
    time_to_resolve_mean = ISODurationField(source="resolve_mean", allow_null=True)
    time_to_resolve_median = ISODurationField(source="resolve_median", allow_null=True)


class SeverityGroupSerializer(serializers.Serializer):
    severity = serializers.ChoiceField(source="key", choices=Severity.choices)
    figures = FiguresSerializer()
    incidents = s.IncidentRefSerializer(many=True, help_text="The first ten, as triggered.")
    more = serializers.IntegerField(help_text="Incidents of this severity not listed.")


class TeamGroupSerializer(serializers.Serializer):
    team = serializers.CharField(source="key", help_text="The team's slug; empty: no team.")
    name = serializers.CharField(source="label")
    figures = FiguresSerializer()


class IncidentsSerializer(serializers.Serializer):
    all = FiguresSerializer(source="totals")
    by_severity = SeverityGroupSerializer(many=True)
    by_team = TeamGroupSerializer(many=True)


class CheckSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The section that answers it.")
    title = serializers.CharField(source="label")
    filled = serializers.BooleanField(help_text="The section has text.")


class ToReviewSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="postmortem.id")
    incident = s.IncidentRefSerializer(source="postmortem.incident")
    title = serializers.CharField(source="postmortem.title")
    status = serializers.ChoiceField(source="postmortem.status", choices=PostmortemStatus.choices)
    owner = serializers.IntegerField(source="postmortem.owner_id", allow_null=True)
    published_at = serializers.DateTimeField(source="postmortem.published_at", allow_null=True)
    summary_html = serializers.CharField(help_text="The summary, rendered (safe HTML).")
    checklist = CheckSerializer(many=True, help_text="Handbook 004's weekly review items.")


class OverduePostmortemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    incident = s.IncidentRefSerializer()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=PostmortemStatus.choices)
    due_at = serializers.DateTimeField()


class OwnerPostmortemsSerializer(serializers.Serializer):
    owner = serializers.IntegerField(source="owner.pk", allow_null=True)
    total = serializers.IntegerField()
    postmortems = OverduePostmortemSerializer(source="rows", many=True)


class OwnerActionItemsSerializer(serializers.Serializer):
    owner = serializers.IntegerField(source="owner.pk")
    total = serializers.IntegerField()
    action_items = s.ActionItemSerializer(source="rows", many=True)


class NotListedSerializer(serializers.Serializer):
    owners = serializers.IntegerField(
        source="more_owners", help_text="People with overdue rows beyond the first 12 listed."
    )
    total = serializers.IntegerField(source="more_rows", help_text="Their overdue rows.")


class CappedItemsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    action_items = s.ActionItemSerializer(source="rows", many=True, help_text="The first 25.")


class MeetingSerializer(serializers.Serializer):
    week = serializers.SerializerMethodField(help_text="e.g. 2026-W11.")
    attendees = serializers.SerializerMethodField(help_text="User ids.")
    notes = serializers.CharField(help_text="Markdown.")
    notes_html = serializers.SerializerMethodField()
    decisions = serializers.CharField(help_text="Markdown.")
    decisions_html = serializers.SerializerMethodField()
    held_at = serializers.DateTimeField(allow_null=True)
    held_by = serializers.IntegerField(source="held_by_id", allow_null=True)
    version = serializers.IntegerField(help_text="Send it back with PATCH.")
    updated_at = serializers.DateTimeField()

    def get_week(self, meeting: ReviewMeeting) -> str:
        return str(IsoWeek.of_monday(meeting.week))

    def get_attendees(self, meeting: ReviewMeeting) -> list[int]:
        return sorted(user.pk for user in meeting.attendees.all())

    def get_notes_html(self, meeting: ReviewMeeting) -> str:
        return markdown_safe(meeting.notes)

    def get_decisions_html(self, meeting: ReviewMeeting) -> str:
        return markdown_safe(meeting.decisions)


class ReviewSerializer(serializers.Serializer):
    week = serializers.CharField()
    headline = PreviousSerializer(
        help_text="The insights page's headline figures of the week (`from`, `to`)."
    )
    headline_previous = PreviousSerializer(
        help_text="The same figures of the period of the same length just before, which the "
        "page compares with (a DST week's is 167 or 169 hours)."
    )
    time_zone = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    overdue_as_of = serializers.DateTimeField(source="cutoff")
    incidents = IncidentsSerializer(source="*")
    postmortems_to_review = ToReviewSerializer(
        source="to_review", many=True, help_text="The first 25, most severe first."
    )
    postmortems_to_review_total = serializers.IntegerField(source="to_review_total")
    overdue_postmortems = OwnerPostmortemsSerializer(
        many=True, help_text="The 12 people with the most, each with their first three."
    )
    overdue_postmortems_not_listed = NotListedSerializer(source="overdue_postmortems")
    overdue_action_items = OwnerActionItemsSerializer(
        many=True, help_text="The 12 people with the most, each with their first three."
    )
    overdue_action_items_not_listed = NotListedSerializer(source="overdue_action_items")
    action_items_opened = CappedItemsSerializer(source="items_opened")
    action_items_closed = CappedItemsSerializer(source="items_closed")
    meeting = MeetingSerializer(allow_null=True)
    previous_meeting_week = serializers.CharField(allow_null=True)


class MeetingUpdateSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, help_text="The meeting's version you read (0: none)."
    )
    notes = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, trim_whitespace=False
    )
    decisions = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, trim_whitespace=False
    )
    attendees = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=s.MAX_ID),
        required=False,
        max_length=500,
        help_text="User ids: the whole list.",
    )
    held = serializers.BooleanField(required=False, help_text="Mark held (now, by you) or not.")


def _week(text: str) -> IsoWeek:
    week = IsoWeek.parse(text)
    if week is None:
        raise exceptions.NotFound(
            f"No such week: {text[:20]!r}. Name one like 2026-W11 (years 2000 to 2199)."
        )
    return week


def _answer(week: IsoWeek) -> dict[str, Any]:
    review = weekly_review(week)
    meeting, previous = review_meetings(week)
    before = Filters(start=review.start, end=review.end).previous[0]
    data = {
        **{name: getattr(review, name) for name in review.__dataclass_fields__},
        "headline": {"from": review.start, "to": review.end, **headline_body(review.headline)},
        "headline_previous": {
            "from": before,
            "to": review.start,
            **headline_body(review.headline_before),
        },
        "week": str(week),
        "time_zone": settings.COMPANY_TIME_ZONE,
        "meeting": meeting,
        "previous_meeting_week": str(IsoWeek.of_monday(previous.week)) if previous else None,
    }
    return ReviewSerializer(data).data


class ReviewApi(PostmortemApiView):
    @extend_schema(
        operation_id="reviews_retrieve",
        summary="The weekly postmortem review of an ISO week",
        description="What the review page shows: the week's incidents by severity and team "
        "(counts, mean and median time to acknowledge and resolve, ISO 8601 durations), the "
        "postmortems in review or published that week with handbook 004's checklist, overdue "
        "postmortems and action items by owner (as of `overdue_as_of`: the earlier of now and "
        "the week's end), action items opened and closed, and the meeting. A week runs Monday "
        "00:00 to Monday 00:00 in the company's time zone. An unknown week is a 404.",
        parameters=[WEEK_PARAMETER],
        responses={200: ReviewSerializer, **error_responses(401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, week: str) -> Response:
        return Response(_answer(_week(week)))

    @extend_schema(
        operation_id="reviews_meeting_partial_update",
        summary="Write the week's review meeting",
        description="Managers and Support managers (else 403). Send the meeting's `version` "
        "you read (0 when there was none) with what you change: `notes`, `decisions` "
        "(Markdown), `attendees` (user ids, the whole list); a stale version writes nothing: "
        "409 `version_conflict` with `error.conflict` (`current_version`, `theirs`, "
        "`yours`). `held` marks the meeting held (now, by you) or not and needs no version "
        "match. Answers the whole review.",
        parameters=[WEEK_PARAMETER],
        request=MeetingUpdateSerializer,
        responses={
            200: ReviewSerializer,
            **error_responses(400, 401, 403, 404, 413, 415),
            409: OpenApiResponse(ErrorSerializer, description="`version_conflict`."),
        },
        tags=TAGS,
    )
    def patch(self, request: Request, week: str) -> Response:
        the_week = _week(week)
        data = validated_body(MeetingUpdateSerializer, request)
        actor = signed_in(request)
        attendees: list[User] | None = None
        if "attendees" in data:
            attendees = [
                user
                for user in (
                    active_user(pk, "attendees") for pk in dict.fromkeys(data["attendees"])
                )
                if user is not None
            ]
        if {"notes", "decisions", "attendees"} & set(data):
            try:
                meetings.review_meeting_save(
                    week=the_week.monday,
                    actor=actor,
                    version=data["version"],
                    notes=data.get("notes"),
                    decisions=data.get("decisions"),
                    attendees=attendees,
                )
            except meetings.MeetingConflict as clash:
                error = Conflict(str(clash), code=clash.code)
                error.fields = {  # type: ignore[attr-defined]
                    "version": [f"The saved version is {clash.current_version}."],
                    **{name: ["Changed since you read it."] for name in clash.yours},
                }
                response = self.handle_exception(error)
                response.data["error"]["conflict"] = {
                    "current_version": clash.current_version,
                    "theirs": clash.theirs,
                    "yours": clash.yours,
                }
                return response
        if "held" in data:
            meetings.review_meeting_mark_held(week=the_week.monday, actor=actor, held=data["held"])
        return Response(_answer(the_week))

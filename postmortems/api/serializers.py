"""Input and output shapes of the postmortems API (names per issue 14's Contract)."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.api.serializers import MAX_ID
from incidents.models import TEXT_MAX, TITLE_MAX, Severity
from oncall.api.fields import DayField, InstantField
from postmortems.models import (
    SECTION_KEY_MAX,
    TICKET_URL_MAX,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    Postmortem,
    PostmortemStatus,
)

TAGS = ["postmortems"]
READ_ERRORS = (401, 403, 404)
WRITE_ERRORS = (400, 401, 403, 404, 413, 415)
# A timeline longer than this is not a postmortem's (the import of a busy incident is ~100).
TIMELINE_MAX = 2000


def _user_id(**kwargs: Any) -> serializers.IntegerField:
    kwargs.setdefault("help_text", "A user id.")
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


# --- Output ---------------------------------------------------------------------------------


class IncidentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(help_text="INC-<id>.")
    title = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)


class SectionSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Stable name, e.g. summary, impact.")
    title = serializers.CharField()
    body = serializers.CharField(help_text="Markdown.")


class TimelineLineSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    text = serializers.CharField()
    key_moment = serializers.BooleanField()


class PostmortemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    incident = IncidentRefSerializer()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=PostmortemStatus.choices)
    owner = serializers.IntegerField(source="owner_id", allow_null=True, help_text="A user id.")
    due_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField(help_text="Send it back with PATCH (safe concurrent edits).")
    sections = SectionSerializer(many=True, help_text="In the template's order.")
    timeline = TimelineLineSerializer(many=True)
    action_items = serializers.SerializerMethodField(help_text="Action item ids, by due date.")
    no_action_items_reason = serializers.CharField()

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_action_items(self, postmortem: Postmortem) -> list[int]:
        return [item.pk for item in postmortem.action_items.all()]


class ActionItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    postmortem = serializers.IntegerField(source="postmortem_id")
    title = serializers.CharField()
    description = serializers.CharField()
    owner = serializers.IntegerField(source="owner_id", help_text="A user id.")
    kind = serializers.ChoiceField(choices=ActionItemKind.choices)
    priority = serializers.ChoiceField(choices=ActionItemPriority.choices)
    status = serializers.ChoiceField(choices=ActionItemStatus.choices)
    due_date = serializers.DateField()
    ticket_url = serializers.CharField()
    completed_at = serializers.DateTimeField(allow_null=True)


# --- Input ----------------------------------------------------------------------------------


class PostmortemStartSerializer(serializers.Serializer):
    incident = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="An incident id.")


class SectionInputSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=SECTION_KEY_MAX)
    body = serializers.CharField(max_length=TEXT_MAX, allow_blank=True, trim_whitespace=False)


class TimelineLineInputSerializer(serializers.Serializer):
    at = InstantField()
    text = serializers.CharField(max_length=TEXT_MAX)
    key_moment = serializers.BooleanField(default=False)


class PostmortemUpdateSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The version you read (required)."
    )
    title = serializers.CharField(max_length=TITLE_MAX, required=False)
    owner = _user_id(required=False, allow_null=True, help_text="A user id; null: nobody.")
    due_at = InstantField(required=False, allow_null=True, help_text="null: no due time.")
    sections = SectionInputSerializer(
        many=True,
        required=False,
        help_text="Only the sections you change, by key (a GET's `sections` may be sent back).",
    )
    timeline = serializers.ListField(
        child=TimelineLineInputSerializer(),
        required=False,
        max_length=TIMELINE_MAX,
        help_text="The whole timeline, replacing the saved one.",
    )
    no_action_items_reason = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True
    )

    def validate_sections(self, sections: list[dict[str, str]]) -> dict[str, str]:
        keys = [section["key"] for section in sections]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise serializers.ValidationError(f"Each section once: {', '.join(twice)} repeated.")
        return {section["key"]: section["body"] for section in sections}


class ActionItemInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=TITLE_MAX)
    owner = _user_id()
    kind = serializers.ChoiceField(choices=ActionItemKind.choices)
    priority = serializers.ChoiceField(choices=ActionItemPriority.choices, required=False)
    description = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    due_date = DayField(required=False, help_text="Defaults from the severity's `action_item_due`.")
    ticket_url = serializers.CharField(
        max_length=TICKET_URL_MAX, required=False, allow_blank=True, help_text="http or https."
    )


class ActionItemUpdateSerializer(ActionItemInputSerializer):
    status = serializers.ChoiceField(
        choices=ActionItemStatus.choices,
        required=False,
        help_text="open → in_progress/done/wont_do, in_progress → open/done/wont_do, "
        "done/wont_do → open; another move is a 409 (illegal_transition).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class TransitionSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="The version you read: if someone saved since, nothing moves (409 "
        "version_conflict).",
    )

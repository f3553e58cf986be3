"""REST API of postmortems and action items.

Each view validates with an input serializer, calls one service and answers with an output
serializer. Domain errors become the portal's error shape: NotAllowed 403, PublishIncomplete
400 naming the fields, a stale version 409 `version_conflict` (both texts in
`error.conflict`), an illegal status change 409 `illegal_transition`.
"""

from collections.abc import Callable
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.api.views import IncidentCursorPagination
from incidents.models import Via
from incidents.selectors import incidents_visible_to
from oncall.api.errors import Conflict, ErrorSerializer, error_responses
from oncall.api.inputs import validated_body
from oncall.api.permissions import signed_in
from postmortems import selectors, services
from postmortems.api import serializers as s
from postmortems.api.filters import ActionItemFilter, PostmortemFilter
from postmortems.models import ActionItem, Postmortem
from rotations.services import active_user

TAGS = s.TAGS
# The names a PostmortemConflict uses that are not section keys.
PLAIN_NAMES = frozenset({"title", "owner", "due_at", "timeline", "no_action_items_reason"})
CONFLICT_409 = OpenApiResponse(
    ErrorSerializer,
    description="`version_conflict`: someone saved since the `version` you sent; nothing was "
    "written. `error.fields` names what clashes, and `error.conflict` holds "
    "`current_version`, `theirs` (the saved values) and `yours` (the refused ones) by name "
    "(`sections.<key>`, `title`, `timeline`, …). Also `illegal_transition` (a published "
    "postmortem is reopened before it is edited).",
)


class PostmortemCursorPagination(IncidentCursorPagination):
    """Newest first (by id), like the incident list."""


class ActionItemCursorPagination(CursorPagination):
    """By due date; the position is a day, anything else is a forged cursor (404)."""

    ordering = ("due_date", "id")
    page_size = IncidentCursorPagination.page_size
    page_size_query_param = IncidentCursorPagination.page_size_query_param
    max_page_size = IncidentCursorPagination.max_page_size

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                date.fromisoformat(str(cursor.position))
            except ValueError:
                raise exceptions.NotFound(self.invalid_cursor_message) from None
        return cursor


def _api_name(name: str) -> str:
    return name if name in PLAIN_NAMES else f"sections.{name}"


def _conflict(exc: services.PostmortemConflict) -> tuple[Conflict, dict[str, Any]]:
    error = Conflict(str(exc), code=exc.code)
    fields = {"version": [f"The saved version is {exc.current_version}."]}
    for name in exc.yours:
        fields[_api_name(name)] = ["Changed since you read it: see error.conflict.theirs."]
    error.fields = fields  # type: ignore[attr-defined]
    extra = {
        "current_version": exc.current_version,
        "theirs": {_api_name(name): value for name, value in exc.theirs.items()},
        "yours": {_api_name(name): value for name, value in exc.yours.items()},
    }
    return error, extra


class PostmortemApiView(APIView):
    """Maps the postmortems app's domain errors to 4xx answers."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.PostmortemConflict):
            error, extra = _conflict(exc)
            response = super().handle_exception(error)
            response.data["error"]["conflict"] = extra
            return response
        if isinstance(exc, services.PublishIncomplete):
            exc = exceptions.ValidationError(
                {
                    name: [ErrorDetail(m, code=exc.code) for m in messages]
                    for name, messages in exc.fields.items()
                }
            )
        elif isinstance(exc, services.NotAllowed):
            exc = exceptions.PermissionDenied(str(exc), code=exc.code)
        elif isinstance(exc, services.PostmortemError):
            exc = Conflict(str(exc), code=exc.code)
        return super().handle_exception(exc)


def _postmortem(postmortem_id: int) -> Postmortem:
    found = selectors.postmortems_with_content().filter(pk=postmortem_id).first()
    if found is None:
        raise exceptions.NotFound(f"There is no postmortem with the id {postmortem_id}.")
    return found


def _detail(postmortem_id: int) -> dict[str, Any]:
    return s.PostmortemSerializer(_postmortem(postmortem_id)).data


def _action_item(item_id: int) -> ActionItem:
    found = ActionItem.objects.select_related("postmortem__incident").filter(pk=item_id).first()
    if found is None:
        raise exceptions.NotFound(f"There is no action item with the id {item_id}.")
    return found


class PagedListApi(GenericAPIView, PostmortemApiView):
    """GET: the filtered rows, a page at a time (the subclass names rows and shapes)."""

    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema_view(
    get=extend_schema(
        operation_id="postmortems_list",
        summary="Postmortems, newest first",
        description="Everyone signed in reads every postmortem. Filter by the incident's team "
        "and severity, status, owner and creation time; page with the `next` link.",
        responses={
            200: s.PostmortemSerializer(many=True),
            **error_responses(400, 401, 403, 404),
        },
        tags=TAGS,
    )
)
class PostmortemListApi(PagedListApi):
    queryset = Postmortem.objects.none()
    serializer_class = s.PostmortemSerializer
    filterset_class = PostmortemFilter
    pagination_class = PostmortemCursorPagination

    def get_queryset(self) -> QuerySet[Postmortem]:
        return selectors.postmortems_with_content()

    @extend_schema(
        operation_id="postmortems_create",
        summary="Start the postmortem of an incident",
        description="Anyone may start one for any incident; the starter owns it, its sections "
        "come from the default template and its timeline from the incident's. An incident "
        "has one postmortem: if it has one already, the answer is 200 with it.",
        request=s.PostmortemStartSerializer,
        responses={
            201: OpenApiResponse(s.PostmortemSerializer, description="Started."),
            200: OpenApiResponse(
                s.PostmortemSerializer, description="The incident's existing postmortem."
            ),
            **error_responses(400, 401, 403, 413, 415),
        },
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        data = validated_body(s.PostmortemStartSerializer, request)
        incident = incidents_visible_to(signed_in(request)).filter(pk=data["incident"]).first()
        if incident is None:
            raise ValidationError(
                {"incident": f"There is no incident with the id {data['incident']}."}
            )
        postmortem, created = services.postmortem_start_or_get(
            incident=incident, actor=signed_in(request), via=Via.API
        )
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(_detail(postmortem.pk), status=answer)


class PostmortemDetailApi(PostmortemApiView):
    @extend_schema(
        operation_id="postmortems_retrieve",
        summary="One postmortem",
        responses={200: s.PostmortemSerializer, **error_responses(401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, postmortem_id: int) -> Response:
        return Response(_detail(postmortem_id))

    @extend_schema(
        operation_id="postmortems_partial_update",
        summary="Write a postmortem",
        description="Send the `version` you read and what you change: title, owner, due time, "
        "sections by key, the whole timeline, the reason for no action items. The owner, the "
        "incident's commander and Managers write (else 403). A real change bumps `version` "
        "and keeps a revision. A stale `version` writes nothing: 409 `version_conflict` with "
        "both texts in `error.conflict`.",
        request=s.PostmortemUpdateSerializer,
        responses={
            200: s.PostmortemSerializer,
            **error_responses(*s.WRITE_ERRORS),
            409: CONFLICT_409,
        },
        tags=TAGS,
    )
    def patch(self, request: Request, postmortem_id: int) -> Response:
        postmortem = _postmortem(postmortem_id)
        data = validated_body(s.PostmortemUpdateSerializer, request)
        services.postmortem_update(
            postmortem=postmortem,
            actor=signed_in(request),
            version=data["version"],
            title=data.get("title"),
            owner=active_user(data.get("owner"), "owner"),
            due_at=data.get("due_at"),
            # Sent as null: cleared (absent: unchanged).
            clear_owner="owner" in data and data["owner"] is None,
            clear_due="due_at" in data and data["due_at"] is None,
            sections=data.get("sections"),
            timeline=[services.TimelineLine(**line) for line in data["timeline"]]
            if "timeline" in data
            else None,
            no_action_items_reason=data.get("no_action_items_reason"),
        )
        return Response(_detail(postmortem_id))


def _move_schema(operation_id: str, summary: str, description: str) -> Any:
    return extend_schema_view(
        post=extend_schema(
            operation_id=operation_id,
            summary=summary,
            description=description,
            request=s.TransitionSerializer,
            responses={
                200: s.PostmortemSerializer,
                **error_responses(*s.WRITE_ERRORS),
                409: OpenApiResponse(
                    ErrorSerializer,
                    description="`illegal_transition` (not from this status), or "
                    "`version_conflict` (saved since the `version` you sent).",
                ),
            },
            tags=TAGS,
        )
    )


class PostmortemMoveApi(PostmortemApiView):
    """A status move through its service (all go through `postmortem_transition`)."""

    move: Callable[..., Postmortem]

    def post(self, request: Request, postmortem_id: int) -> Response:
        data = validated_body(s.TransitionSerializer, request)
        type(self).move(
            postmortem=_postmortem(postmortem_id),
            actor=signed_in(request),
            via=Via.API,
            version=data.get("version"),
        )
        return Response(_detail(postmortem_id))


@_move_schema(
    "postmortems_submit",
    "Submit for review",
    "A draft goes to review; its owner (or a Manager) submits it.",
)
class PostmortemSubmitApi(PostmortemMoveApi):
    move = services.postmortem_submit


@_move_schema(
    "postmortems_publish",
    "Publish",
    "A Manager publishes (the Support manager too, for incidents declared by support). "
    "It needs a summary, an impact, and an action item or `no_action_items_reason`: "
    "else 400 `publish_incomplete` naming `sections.summary`, `sections.impact`, "
    "`action_items`. Severities marked `postmortem_emailed` email it to the company.",
)
class PostmortemPublishApi(PostmortemMoveApi):
    move = services.postmortem_publish


@_move_schema(
    "postmortems_reopen",
    "Reopen a published postmortem to correct it",
    "Back to review (it must be published again), by whoever may write or publish it.",
)
class PostmortemReopenApi(PostmortemMoveApi):
    move = services.postmortem_reopen


class PostmortemActionItemsApi(PostmortemApiView):
    @extend_schema(
        operation_id="postmortems_action_items_list",
        summary="A postmortem's action items, by due date",
        responses={200: s.ActionItemSerializer(many=True), **error_responses(401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, postmortem_id: int) -> Response:
        postmortem = _postmortem(postmortem_id)
        items = ActionItem.objects.filter(postmortem=postmortem)
        return Response(s.ActionItemSerializer(items, many=True).data)

    @extend_schema(
        operation_id="postmortems_action_items_create",
        summary="Add an action item",
        description="Whoever writes the postmortem adds them (else 403). The due date "
        "defaults from the severity's `action_item_due`.",
        request=s.ActionItemInputSerializer,
        responses={201: s.ActionItemSerializer, **error_responses(*s.WRITE_ERRORS)},
        tags=TAGS,
    )
    def post(self, request: Request, postmortem_id: int) -> Response:
        postmortem = _postmortem(postmortem_id)
        data = validated_body(s.ActionItemInputSerializer, request)
        owner = active_user(data.pop("owner"), "owner")
        assert owner is not None
        item = services.action_item_create(
            postmortem=postmortem, actor=signed_in(request), owner=owner, via=Via.API, **data
        )
        return Response(s.ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        operation_id="action_items_list",
        summary="Action items, by due date",
        description="Everyone's; filter by owner, status, postmortem, and `overdue=true` (open "
        "or in progress, due before today in UTC). Page with the `next` link.",
        responses={
            200: s.ActionItemSerializer(many=True),
            **error_responses(400, 401, 403, 404),
        },
        tags=TAGS,
    )
)
class ActionItemListApi(PagedListApi):
    queryset = ActionItem.objects.none()
    serializer_class = s.ActionItemSerializer
    filterset_class = ActionItemFilter
    pagination_class = ActionItemCursorPagination

    def get_queryset(self) -> QuerySet[ActionItem]:
        return ActionItem.objects.all()


class ActionItemDetailApi(PostmortemApiView):
    @extend_schema(
        operation_id="action_items_retrieve",
        summary="One action item",
        responses={200: s.ActionItemSerializer, **error_responses(401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, item_id: int) -> Response:
        return Response(s.ActionItemSerializer(_action_item(item_id)).data)

    @extend_schema(
        operation_id="action_items_partial_update",
        summary="Change an action item, or move its status",
        description="Details (title, description, owner, kind, priority, due date, ticket) "
        "are changed by whoever writes the postmortem; `status` also by the item's owner. "
        "Status moves: open → in_progress, done, wont_do; in_progress → open, done, wont_do; "
        "done and wont_do → open (done and won't-do set `completed_at`, a reopen clears it). "
        "Another move is a 409 `illegal_transition` and changes nothing.",
        request=s.ActionItemUpdateSerializer,
        responses={
            200: s.ActionItemSerializer,
            **error_responses(*s.WRITE_ERRORS, 409),
        },
        tags=TAGS,
    )
    def patch(self, request: Request, item_id: int) -> Response:
        item = _action_item(item_id)
        data = validated_body(s.ActionItemUpdateSerializer, request)
        if "owner" in data:
            data["owner"] = active_user(data["owner"], "owner")
        item = services.action_item_change(item=item, actor=signed_in(request), via=Via.API, **data)
        return Response(s.ActionItemSerializer(item).data)

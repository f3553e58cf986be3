"""Override requests: a cover of a teammate's shift, or a swap, waiting for their answer."""

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oncall.api.errors import error_responses
from oncall.api.inputs import validated_body, validated_query
from oncall.api.permissions import signed_in
from oncall.models import User
from oncall.roles import is_manager
from rotations import services
from rotations.api.overrides import input_rotation
from rotations.api.serializers import (
    TAGS,
    WRITE_ERRORS,
    OverrideRequestInputSerializer,
    OverrideRequestSerializer,
    OverrideRequestsQuerySerializer,
)
from rotations.models import OverrideRequest

ANSWERS = {
    "accept": services.override_request_accept,
    "decline": services.override_request_decline,
    "cancel": services.override_request_cancel,
}


def _visible(user: User) -> QuerySet[OverrideRequest]:
    """A person sees the requests they sent or received; managers see all."""
    requests = OverrideRequest.objects.all()
    if not is_manager(user):
        requests = requests.filter(Q(requester=user) | Q(recipient=user))
    return requests


def _request_or_404(user: User, request_id: int) -> OverrideRequest:
    found = (
        _visible(user)
        .select_related("rotation__team", "requester", "recipient")
        .filter(pk=request_id)
        .first()
    )
    if found is None:
        raise exceptions.NotFound(f"There is no request with the id {request_id}.")
    return found


class OverrideRequestListApi(APIView):
    @extend_schema(
        operation_id="override_requests_list",
        summary="Override requests",
        description="The requests you sent or received (managers: all), earliest shift first. "
        "Pending requests whose shift has begun are expired first.",
        parameters=[OverrideRequestsQuerySerializer],
        responses={200: OverrideRequestSerializer(many=True), **error_responses(400, 401, 403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        query = validated_query(OverrideRequestsQuerySerializer, request)
        services.override_requests_expire()
        requests = _visible(signed_in(request))
        if query.get("status"):
            requests = requests.filter(status=query["status"])
        return Response(OverrideRequestSerializer(requests.order_by("start", "id"), many=True).data)

    @extend_schema(
        operation_id="override_requests_create",
        summary="Ask a teammate to cover or swap",
        description="`cover`: you take `recipient`'s shift from `start` to `end`. `swap`: "
        "`recipient` takes your shift from `start` to `end` and you take theirs from "
        "`swap_start` to `swap_end`. Each shift must belong to the one who gives it "
        "(codes not_your_shift, not_their_shift), must not have begun (request_expired) and "
        "last at most OVERRIDE_MAX_DAYS (override_too_long); the team rules are checked "
        "(double_booking, new_tier_on_veteran). The recipient is told by email.",
        request=OverrideRequestInputSerializer,
        responses={201: OverrideRequestSerializer, **error_responses(*WRITE_ERRORS)},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        data = validated_body(OverrideRequestInputSerializer, request)
        recipient = services.active_user(data["recipient"], "recipient")
        assert recipient is not None
        made = services.override_request_create(
            rotation=input_rotation(data["rotation"]),
            requester=signed_in(request),
            recipient=recipient,
            kind=data["kind"],
            start=data["start"],
            end=data["end"],
            swap_start=data.get("swap_start"),
            swap_end=data.get("swap_end"),
            reason=data.get("reason", ""),
        )
        return Response(OverrideRequestSerializer(made).data, status=201)


class OverrideRequestDetailApi(APIView):
    @extend_schema(
        operation_id="override_requests_retrieve",
        summary="One override request",
        responses={200: OverrideRequestSerializer, **error_responses(401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, request_id: int) -> Response:
        found = _request_or_404(signed_in(request), request_id)
        return Response(OverrideRequestSerializer(found).data)


class OverrideRequestAnswerApi(APIView):
    @extend_schema(
        operation_id="override_requests_answer",
        summary="Accept, decline (the recipient) or cancel (the requester) a request",
        description="`accept` re-checks everything and makes the override(s); a request whose "
        "shift has begun or changed hands since is expired and refused (codes "
        "request_expired, request_stale); an answered one is refused (request_not_pending). "
        "The other person is told by email.",
        parameters=[
            OpenApiParameter(
                "answer", str, OpenApiParameter.PATH, enum=list(ANSWERS), description="What to do."
            )
        ],
        request=None,
        responses={200: OverrideRequestSerializer, **error_responses(400, 401, 403, 404)},
        tags=TAGS,
    )
    def post(self, request: Request, request_id: int, answer: str) -> Response:
        actor = signed_in(request)
        if answer not in ANSWERS:
            raise exceptions.NotFound(f"Answer with one of {', '.join(ANSWERS)}, not {answer!r}.")
        found = _request_or_404(actor, request_id)
        ANSWERS[answer](request=found, actor=actor)
        return Response(OverrideRequestSerializer(_request_or_404(actor, request_id)).data)

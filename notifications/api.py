"""REST API of one's own contact methods and their test pages, and (for managers) who has
not tested lately."""

import math

from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.models import ContactMethod, Notification
from oncall.api.errors import Conflict, error_responses
from oncall.api.permissions import signed_in
from oncall.roles import is_manager

TAGS = ["contact methods"]


class ContactMethodSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.CharField()
    address = serializers.CharField()
    # The metaclass takes declared fields off the class: no clash with Field.label at runtime.
    label = serializers.CharField()  # type: ignore[assignment]
    verified = serializers.BooleanField()
    last_tested_at = serializers.DateTimeField(
        allow_null=True, help_text="When a test page to it last went out successfully."
    )


class TestPageSerializer(serializers.Serializer):
    __test__ = False  # not a pytest test class

    id = serializers.IntegerField()
    contact_method = serializers.IntegerField(source="contact_method_id", allow_null=True)
    channel = serializers.CharField()
    address = serializers.CharField()
    status = serializers.CharField(help_text="pending → sending → sent | failed.")
    error = serializers.CharField(
        source="last_error", help_text="Why the last try failed, in words; empty when none."
    )
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    failed_at = serializers.DateTimeField(allow_null=True)
    final = serializers.BooleanField(source="is_final", help_text="Poll until true.")


class UntestedMethodSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.CharField()
    address = serializers.CharField()
    last_tested_at = serializers.DateTimeField(allow_null=True)


class UntestedSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user.pk")
    username = serializers.CharField(source="user.username")
    name = serializers.CharField(source="user.get_full_name")
    methods = UntestedMethodSerializer(many=True, help_text="Every high-urgency method.")
    stale = UntestedMethodSerializer(many=True, help_text="Those not tested in 90 days.")


class ContactMethodListApi(APIView):
    @extend_schema(
        operation_id="contact_methods_list",
        summary="My contact methods, with when each was last tested",
        responses={200: ContactMethodSerializer(many=True), **error_responses(401, 403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        methods = selectors.contact_methods_of(user=signed_in(request))
        return Response(ContactMethodSerializer(methods, many=True).data)


def _throttled(refused: services.Throttled) -> exceptions.Throttled:
    error = exceptions.Throttled(
        wait=math.ceil(refused.retry_after.total_seconds()), code=refused.code
    )
    error.detail = exceptions.ErrorDetail(refused.message, code=refused.code)
    return error


class ContactMethodTestApi(APIView):
    @extend_schema(
        operation_id="contact_methods_test",
        summary="Send myself a test page through one of my verified contact methods",
        description=(
            "Queues a test page (no incident, nothing to acknowledge) on the real delivery "
            "path and answers 201 with it; poll `GET /api/v1/test-pages/{id}/` until `final`. "
            "One per method per minute (429 with Retry-After); an unverified method is 409 "
            "`unverified`; another person's method is 404."
        ),
        request=None,
        responses={201: TestPageSerializer, **error_responses(401, 403, 404, 409, 429)},
        tags=TAGS,
    )
    def post(self, request: Request, method_id: int) -> Response:
        user = signed_in(request)
        method = ContactMethod.objects.filter(pk=method_id, user=user).first()
        if method is None:
            raise exceptions.NotFound(f"You have no contact method with the id {method_id}.")
        try:
            page = services.contact_method_test_send(contact_method=method)
        except services.TestPageThrottled as refused:
            raise _throttled(refused) from refused
        except ValidationError as refused:
            # unverified, or gone (removed meanwhile)
            raise Conflict(" ".join(refused.messages), code=refused.code or "conflict") from refused
        return Response(TestPageSerializer(page).data, status=status.HTTP_201_CREATED)


class TestPageDetailApi(APIView):
    __test__ = False  # not a pytest test class

    @extend_schema(
        operation_id="test_pages_retrieve",
        summary="One of my test pages: its status and, when it failed, why",
        responses={200: TestPageSerializer, **error_responses(401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, page_id: int) -> Response:
        page: Notification | None = selectors.own_test_page(
            user=signed_in(request), notification_id=page_id
        )
        if page is None:
            raise exceptions.NotFound(f"You sent no test page with the id {page_id}.")
        return Response(TestPageSerializer(page).data)


class UntestedApi(APIView):
    @extend_schema(
        operation_id="contact_methods_untested",
        summary="People in a rotation whose high-urgency methods had no test in 90 days (managers)",
        responses={200: UntestedSerializer(many=True), **error_responses(401, 403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        if not is_manager(signed_in(request)):
            raise exceptions.PermissionDenied("Only managers may see who has not tested.")
        rows = selectors.untested_on_call(now=timezone.now())
        return Response(UntestedSerializer(rows, many=True).data)

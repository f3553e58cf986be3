"""REST API of customer contacts: `GET/POST /api/v1/incidents/<id>/customer-contacts/`."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.serializers import UserRefSerializer
from incidents.api.views import READ_ERRORS, WRITE_ERRORS, IncidentApiView, _body, _incident
from incidents.models import CONTACT_SUMMARY_MAX, ContactChannel, CustomerContact, Via
from incidents.support.contacts import customer_contact_log
from oncall.api.errors import error_responses
from oncall.api.fields import InstantField
from oncall.api.permissions import signed_in

TAGS = ["incidents"]


class CustomerContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.ChoiceField(
        choices=ContactChannel.choices, help_text="email, phone, forum, chat or other."
    )
    summary = serializers.CharField(help_text="What the customer was told and said.")
    at = serializers.DateTimeField(help_text="When the customer was contacted.")
    by = UserRefSerializer(allow_null=True, help_text="Who contacted them.")
    next_due_at = serializers.DateTimeField(
        allow_null=True, help_text="When the next contact is due (null: none planned)."
    )
    reminded_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the second tier on duty was reminded that the next contact is due.",
    )


class CustomerContactInputSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(
        choices=ContactChannel.choices, help_text="email, phone, forum, chat or other."
    )
    summary = serializers.CharField(
        max_length=CONTACT_SUMMARY_MAX, help_text="What the customer was told and said."
    )
    at = InstantField(required=False, help_text="When (default: now; not in the future).")
    next_due_at = InstantField(
        required=False,
        help_text="When the next contact is due (default: after the severity policy's "
        "customer_contact_interval; none once the incident is resolved).",
    )


def _contacts(incident_id: int) -> QuerySet[CustomerContact]:
    return CustomerContact.objects.filter(incident_id=incident_id).select_related("by")


class IncidentCustomerContactsApi(IncidentApiView):
    @extend_schema(
        operation_id="incidents_customer_contacts_list",
        summary="Customer contacts of an incident, newest first",
        responses={200: CustomerContactSerializer(many=True), **error_responses(*READ_ERRORS)},
        tags=TAGS,
    )
    def get(self, request: Request, incident_id: int) -> Response:
        incident = _incident(request, incident_id)
        return Response(CustomerContactSerializer(_contacts(incident.pk), many=True).data)

    @extend_schema(
        operation_id="incidents_customer_contacts_create",
        summary="Log a customer contact (support roles and Managers; 403 for others)",
        request=CustomerContactInputSerializer,
        responses={201: CustomerContactSerializer, **error_responses(*WRITE_ERRORS)},
        tags=TAGS,
    )
    def post(self, request: Request, incident_id: int) -> Response:
        incident = _incident(request, incident_id)
        data = _body(CustomerContactInputSerializer, request)
        contact = customer_contact_log(
            incident=incident, actor=signed_in(request), via=Via.API, **data
        )
        answer = _contacts(incident.pk).get(pk=contact.pk)
        return Response(CustomerContactSerializer(answer).data, status=status.HTTP_201_CREATED)

"""The core API: your API keys, the people in the portal, and who you are."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oncall.api.errors import error_responses
from oncall.api.permissions import signed_in
from oncall.api.services import api_key_create, api_key_revoke
from oncall.models import ApiKey, User
from oncall.roles import is_manager, user_roles

# --- Output ---------------------------------------------------------------------------------


CONTACT_FIELDS = ("email", "phone")


class UserSerializer(serializers.Serializer):
    """A person; `email` and `phone` only for Managers and the person (others get null).

    Who is on call now, with their phone, is on `/api/v1/oncall/` for everyone signed in.
    """

    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(help_text="Display name, else full name, else username.")
    email = serializers.EmailField(
        allow_null=True, help_text="Null unless you are a Manager or this person."
    )
    phone = serializers.CharField(
        allow_null=True, help_text="E.164, or empty; null unless you are a Manager or this person."
    )
    timezone = serializers.CharField(help_text="IANA timezone.")

    def to_representation(self, instance: object) -> dict[str, object]:
        data = super().to_representation(instance)
        viewer = self.context.get("viewer")
        if viewer is not None and not (is_manager(viewer) or viewer.pk == data["id"]):
            data.update(dict.fromkeys(CONTACT_FIELDS))
        return data


class MeSerializer(UserSerializer):
    roles = serializers.ListField(
        child=serializers.CharField(), help_text="Role groups: Support, Engineer, Manager…"
    )
    is_manager = serializers.BooleanField(help_text="May change teams, rotations and policies.")


class ApiKeySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The start of the key, to tell keys apart.")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(
        allow_null=True, help_text="To the minute; null if never used."
    )


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The secret: shown this once, never again.")


# --- Input ----------------------------------------------------------------------------------


class ApiKeyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="What the key is for.")


# --- Views ----------------------------------------------------------------------------------


def _own_keys(user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)


class ApiKeyListApi(APIView):
    @extend_schema(
        operation_id="keys_list",
        summary="Your API keys",
        description="Active keys only; the secret is never shown again.",
        responses={200: ApiKeySerializer(many=True), **error_responses(401, 403)},
        tags=["keys"],
    )
    def get(self, request: Request) -> Response:
        return Response(ApiKeySerializer(_own_keys(signed_in(request)), many=True).data)

    @extend_schema(
        operation_id="keys_create",
        summary="Create an API key",
        description="Send it as `Authorization: Bearer <key>`; it acts with your role. "
        "The `key` in this answer is the only time the secret is shown.",
        request=ApiKeyInputSerializer,
        responses={201: ApiKeyCreatedSerializer, **error_responses(400, 401, 403, 413, 415)},
        tags=["keys"],
    )
    def post(self, request: Request) -> Response:
        data = ApiKeyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = api_key_create(user=signed_in(request), name=data.validated_data["name"])
        body = ApiKeySerializer(created.key).data | {"key": created.secret}
        return Response(ApiKeyCreatedSerializer(body).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(APIView):
    @extend_schema(
        operation_id="keys_destroy",
        summary="Revoke an API key",
        description="The key stops working at once.",
        request=None,
        responses={204: None, **error_responses(401, 403, 404)},
        tags=["keys"],
    )
    def delete(self, request: Request, key_id: int) -> Response:
        key = _own_keys(signed_in(request)).filter(pk=key_id).first()
        if key is None:
            raise exceptions.NotFound(f"You have no active API key with the id {key_id}.")
        api_key_revoke(key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserListApi(APIView):
    @extend_schema(
        operation_id="users_list",
        summary="People",
        description="Active people, by username. Email and phone are null except to Managers "
        "and on your own entry; who is on call now, with their phone, is on `oncall/`.",
        responses={200: UserSerializer(many=True), **error_responses(401, 403)},
        tags=["users"],
    )
    def get(self, request: Request) -> Response:
        users = User.objects.filter(is_active=True).order_by("username")
        viewer = {"viewer": signed_in(request)}
        return Response(UserSerializer(users, many=True, context=viewer).data)


class UserDetailApi(APIView):
    @extend_schema(
        operation_id="users_retrieve",
        summary="One person",
        responses={200: UserSerializer, **error_responses(401, 403, 404)},
        tags=["users"],
    )
    def get(self, request: Request, user_id: int) -> Response:
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise exceptions.NotFound(f"There is no person with the id {user_id}.")
        return Response(UserSerializer(user, context={"viewer": signed_in(request)}).data)


class MeApi(APIView):
    @extend_schema(
        operation_id="me_retrieve",
        summary="Who you are",
        description="The signed-in person (or the owner of the API key) and their roles.",
        responses={200: MeSerializer, **error_responses(401, 403)},
        tags=["users"],
    )
    def get(self, request: Request) -> Response:
        user = signed_in(request)
        roles = sorted(user_roles(user))
        body = UserSerializer(user).data | {"roles": roles, "is_manager": is_manager(user)}
        return Response(MeSerializer(body).data)

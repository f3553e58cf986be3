"""One JSON shape for every API error: `{"error": {"code", "message", "fields"}}`.

Wired in with `REST_FRAMEWORK["EXCEPTION_HANDLER"] = "oncall.api.errors.exception_handler"`.
`fields` maps a field name (dotted for nested input) to its messages; it is empty when the
error is not about a particular field.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from oncall.api.parsers import BodyTooLarge, body_limit


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field" or "parent.child": [messages]}."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        out = {}
        for index, value in enumerate(detail):
            out.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
        return out
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix: [str(m) for m in messages if m]} if messages else {}


def _leaves(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [leaf for value in detail.values() for leaf in _leaves(value)]
    if isinstance(detail, list):
        return [leaf for value in detail for leaf in _leaves(value)]
    return [str(detail)]


def _validation_body(exc: exceptions.ValidationError) -> dict[str, Any]:
    fields = _flatten(exc.detail)
    general = fields.pop(api_settings.NON_FIELD_ERRORS_KEY, []) + fields.pop("", [])
    parts = general + [f"{name}: {' '.join(messages)}" for name, messages in fields.items()]
    # One kind of problem keeps its code ("required"); a mix of problems is "invalid".
    codes = set(_leaves(exc.get_codes()))
    code = codes.pop() if len(codes) == 1 else "invalid"
    return {"code": code, "message": " ".join(parts) or "Invalid input.", "fields": fields}


def _body(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        return _validation_body(exc)
    detail = exc.detail
    code = getattr(detail, "code", None) or exc.default_code
    if isinstance(detail, dict | list):
        return {
            "code": code if isinstance(code, str) else exc.default_code,
            "message": str(exc.default_detail),
            "fields": _flatten(detail),
        }
    return {"code": code, "message": str(detail), "fields": getattr(exc, "fields", {})}


class Conflict(exceptions.APIException):
    """The request is well formed but clashes with the current state (409)."""

    status_code = 409
    default_detail = "This conflicts with the current state."
    default_code = "conflict"


def _protected_message(exc: ProtectedError | RestrictedError) -> str:
    objects: Any = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", ())
    blockers = sorted({str(obj._meta.verbose_name_plural) for obj in objects})
    return "Still in use by " + ", ".join(blockers) + "; remove or reassign those first."


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus Django's errors, with the body in the portal's shape."""
    if isinstance(exc, RequestDataTooBig):
        exc = BodyTooLarge(f"The request body is larger than {body_limit()} bytes.")
    elif isinstance(exc, ProtectedError | RestrictedError):
        exc = Conflict(_protected_message(exc), code="protected")
    elif isinstance(exc, IntegrityError):
        # A race past full_clean (two writers, one unique value); the atomic block rolled back.
        exc = Conflict("This conflicts with a change made at the same time; try again.")
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=serializers.as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        # A domain refusal may carry its own code (e.g. rotations' not_your_shift).
        exc = exceptions.PermissionDenied(
            exc.args[0] if exc.args else None, getattr(exc, "code", None)
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException):
        response.data = {"error": _body(exc)}
    return response


class ErrorBodySerializer(serializers.Serializer):
    """What went wrong: a code for programs, a message for people, messages per field."""

    # For the schema only. Declared in get_fields: a field named `fields` would clash.
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "code": serializers.CharField(help_text="Machine-readable, e.g. invalid, not_found."),
            "message": serializers.CharField(help_text="What went wrong, for people."),
            "fields": serializers.DictField(
                child=serializers.ListField(child=serializers.CharField()),
                help_text="Messages per input field (dotted for nested input).",
            ),
        }


class ErrorSerializer(serializers.Serializer):
    """The portal's one error shape."""

    error = ErrorBodySerializer()


_DESCRIPTIONS = {
    400: "Invalid input; `error.fields` names the fields.",
    401: "The API key is unknown or revoked.",
    403: "Not signed in, or not allowed.",
    404: "Not found.",
    409: "Conflicts with the current state (e.g. an illegal status change, still in use).",
    413: "The request body is too large.",
    415: "The body is not JSON.",
    429: "Too soon; `Retry-After` says in how many seconds to try again.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """OpenAPI responses in the error shape, for `extend_schema(responses=...)`."""
    return {s: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[s]) for s in statuses}

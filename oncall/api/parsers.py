"""JSON bodies with a size limit: DRF reads the stream itself, past Django's own check."""

import io
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

DEFAULT_LIMIT = 2_621_440  # Django's default DATA_UPLOAD_MAX_MEMORY_SIZE


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def body_limit() -> int:
    """Django's DATA_UPLOAD_MAX_MEMORY_SIZE, the limit every other door already has."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or DEFAULT_LIMIT


class LimitedJSONParser(JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = body_limit()
        too_large = BodyTooLarge(f"The request body is larger than {limit} bytes.")
        request = (parser_context or {}).get("request")
        declared = str(request.META.get("CONTENT_LENGTH") or "") if request is not None else ""
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise too_large
        return super().parse(io.BytesIO(raw), media_type, parser_context)

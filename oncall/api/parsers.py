"""JSON bodies with a size limit, read by the portal's strict JSON reader.

DRF reads the stream itself, past Django's own check, so the limit is applied here; the
body is parsed by `oncall.strictjson` (the ingestion doors' reader too), so a deeply nested
body, NaN, an overflowing number, a NUL or a lone surrogate is a 400 naming where it is.
"""

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

from oncall.strictjson import JSONRefused, strict_json_loads

DEFAULT_LIMIT = 2_621_440  # Django's default DATA_UPLOAD_MAX_MEMORY_SIZE


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def body_limit() -> int:
    """Django's DATA_UPLOAD_MAX_MEMORY_SIZE, the limit every other door already has."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or DEFAULT_LIMIT


class InvalidJSON(exceptions.ParseError):
    """A body the strict reader refused; `fields` names the value when there is one."""

    default_detail = "The body is not acceptable JSON."
    default_code = "invalid_json"

    def __init__(self, refused: JSONRefused) -> None:
        where = refused.dotted()
        # Not JSON at all keeps DRF's parse_error; JSON holding a refused value is invalid_json.
        super().__init__(
            f"{where}: {refused.problem}" if where else f"The body {refused.problem}.",
            code="parse_error" if refused.syntax else self.default_code,
        )
        self.fields = {where: [refused.problem]} if where else {}


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
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise too_large
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise too_large
        try:
            return strict_json_loads(raw)
        except JSONRefused as refused:
            raise InvalidJSON(refused) from None

"""Body parsers: JSON, and form / multipart bodies read with bracket notation.

Every parser answers a plain nested dict (or, for JSON, whatever JSON value was sent), so
views never see a QueryDict. Files of a multipart body stay streamed to temporary files by
Django's upload handlers; only the small fields are in memory.
"""

import json

from django.conf import settings
from django.http import QueryDict
from django.utils.http import parse_header_parameters
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, DataAndFiles, FormParser, MultiPartParser

from config.api.brackets import MAX_DEPTH, BracketSyntaxError, parse_pairs
from config.api.errors import TooLarge


def _check_length(parser_context):
    request = (parser_context or {}).get("request")
    if request is None:
        return
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ParseError("invalid Content-Length") from None
    if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise TooLarge(
            f"request body is too large (max {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)"
        )


def nest(querydict: QueryDict) -> dict:
    """A QueryDict (query string or form) as a nested dict; malformed keys are a 400."""
    try:
        return parse_pairs((k, v) for k, values in querydict.lists() for v in values)
    except BracketSyntaxError as exc:
        raise ParseError(str(exc)) from None


class JSONBodyParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        _check_length(parser_context)
        if stream is None:
            return {}
        raw = stream.read()
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error: {exc}") from None
        if _too_deep(value):
            raise ParseError(f"JSON parse error: nested deeper than {MAX_DEPTH} levels")
        return value


def _too_deep(value) -> bool:
    """Whether objects and arrays nest deeper than MAX_DEPTH (checked without recursion)."""
    level = [value]
    for _ in range(MAX_DEPTH + 1):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return True


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")


class BracketFormParser(FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        _check_length(parser_context)
        return nest(super().parse(stream, media_type, parser_context))


class TailReader:
    """Reads a body and remembers its last bytes, to see how it ended."""

    def __init__(self, source, keep: int):
        self.source, self.keep, self.tail = source, keep, b""

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        if data:
            self.tail = (self.tail + data)[-self.keep :]
        return data


def ends_with_closing_boundary(tail: bytes, boundary: bytes) -> bool:
    """True when a multipart body ends with `--boundary--` (line breaks after it allowed).
    Django's multipart parser reads a body without one (garbage, or an upload cut short)
    as whatever parts it could find, possibly none or a truncated last one."""
    return tail.rstrip(b"\r\n").endswith(b"--" + boundary + b"--")


class BracketMultiPartParser(MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        boundary = _boundary(media_type)
        reader = TailReader(stream, keep=len(boundary) + 64)
        result = super().parse(reader, media_type, parser_context)
        if not ends_with_closing_boundary(reader.tail, boundary):
            raise ParseError("malformed multipart body: it does not end with its boundary")
        return DataAndFiles(nest(result.data), result.files)


def _boundary(media_type) -> bytes:
    _, params = parse_header_parameters(media_type or "")
    boundary = params.get("boundary") or ""
    if not boundary:
        raise ParseError("multipart body without a boundary")
    return boundary.encode("ascii", "ignore")

"""A streaming reader for multipart/form-data bodies, one part at a time.

Django's own parser holds a part without a filename in memory as a text field, and the
SDK in node sends its `file` part without one; so uploads read the body here instead,
using Django's boundary splitter but deciding themselves which part is the file. Nothing
is read ahead: a caller that stops (a refused policy, a size over its cap) leaves the rest
of the body unread.

A body that ends before its closing boundary (`--boundary--`) is a client that gave up
half way: Django's splitter would hand out the fragment as if it were the whole last part,
so `parts()` raises FormError once the body ends without one, and a caller acts on a file
only after the iteration has finished.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from django.http.multipartparser import (
    ChunkIter,
    LazyStream,
    MultiPartParserError,
    Parser,
    exhaust,
)
from django.utils.http import parse_header_parameters

from config.api.parsers import TailReader, ends_with_closing_boundary

CHUNK_SIZE = 256 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 50


class FormError(Exception):
    """The body is not a usable multipart form."""


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    stream: LazyStream

    def text(self, limit: int = MAX_FIELD_BYTES) -> str:
        data = self.stream.read(limit + 1)
        if len(data) > limit:
            raise FormError(f"form field {self.name!r} is too long")
        try:
            return data.decode()
        except UnicodeDecodeError:
            raise FormError(f"form field {self.name!r} is not UTF-8") from None

    def chunks(self) -> Iterator[bytes]:
        yield from ChunkIter(self.stream, CHUNK_SIZE)


def boundary_of(content_type: str) -> bytes:
    main, params = parse_header_parameters(content_type or "")
    boundary = params.get("boundary")
    if main != "multipart/form-data" or not boundary:
        raise FormError("the body must be multipart/form-data with a boundary")
    return boundary.encode("ascii", "ignore")


def parts(request) -> Iterator[Part]:
    """The parts of a Django request's multipart body, in order. A part the caller did not
    read is skipped when the next is asked for. When the body ends without its closing
    boundary, FormError is raised instead of finishing."""
    boundary = boundary_of(request.META.get("CONTENT_TYPE", ""))
    reader = TailReader(request, keep=len(boundary) + 64)
    stream = LazyStream(ChunkIter(reader, CHUNK_SIZE))
    count = 0
    try:
        for _kind, meta, field_stream in Parser(stream, boundary):
            disposition = meta.get("content-disposition")
            if not disposition:
                continue
            count += 1
            if count > MAX_FIELDS:
                raise FormError("too many form fields")
            params = disposition[1]
            filename = params.get("filename")
            content_type = meta.get("content-type", (None, {}))[0]
            yield Part(
                name=params.get("name", b"").decode(errors="replace"),
                filename=filename.decode(errors="replace") if filename else None,
                content_type=content_type.strip() if content_type else None,
                stream=field_stream,
            )
            exhaust(field_stream)
    except MultiPartParserError as exc:
        raise FormError(f"malformed multipart body: {exc}") from None
    if not ends_with_closing_boundary(reader.tail, boundary):
        raise FormError("the body ended before its closing boundary (an interrupted upload?)")


def discard_rest(request) -> None:
    """Read what is left of the body in chunks and drop it. After a refusal this lets the
    client finish sending and read the answer, and spares the server from draining it in
    one read: Django's development server does, holding the whole rest in memory."""
    while request.read(CHUNK_SIZE):
        pass

"""`/data/{class}/{id}/file` (API.md §6): upload, download and delete a record's file.

The multipart body is read here as a stream (blobs.multipart), not by DRF's parsers: the
file goes to a temporary file in chunks and reading stops at 32 MB + 1 byte.
"""

import mimetypes
import os
import tempfile

from django.http import FileResponse, HttpResponse
from rest_framework.response import Response

from accounts.authentication import HasUserSession
from blobs import files
from blobs.backends import backend
from blobs.content import sandboxed
from blobs.models import MAX_RECORD_FILE_BYTES
from blobs.multipart import FormError, discard_rest, parts
from blobs.services import MIME_RE
from classes.models import FieldType, ObjectClass
from classes.selectors import class_by_name
from config.api.errors import BadRequest, NotFound, TooLarge, Unprocessable
from config.api.params import all_params, query_params
from config.api.schema import api_doc
from config.api.views import ApiView
from records.models import Record
from records.permissions import check

FORM_OVERHEAD_BYTES = 64 * 1024
FILE_EXAMPLE = {
    "file_id": "5c0d5b7fca8bf40c948cf416",
    "size": 277132,
    "name": "profile_photo.jpeg",
    "content_type": "image/jpeg",
}
_TOO_LARGE = f"file is too large (max {MAX_RECORD_FILE_BYTES} bytes)"


def _record(caller, class_name: str, record_id: str, action: str) -> tuple[ObjectClass, Record]:
    klass = class_by_name(application=caller.application, name=class_name)
    record = Record.objects.filter(object_class=klass, pk=record_id).first()
    if record is None:
        raise NotFound("Record not found")
    check(caller, record, action, klass)
    return klass, record


def _file_field(klass: ObjectClass, field_name) -> str:
    if not field_name or not isinstance(field_name, str):
        raise Unprocessable({"field_name": ["is required"]})
    field = klass.field_map().get(field_name)
    if field is None:
        raise Unprocessable({field_name: ["is not a field of this class"]})
    if field.type != FieldType.FILE:
        raise Unprocessable({field_name: ["is not a File field"]})
    return field_name


class RecordFileView(ApiView):
    def get_permissions(self):
        if self.request.method in ("POST", "PUT", "DELETE"):
            return [HasUserSession()]
        return super().get_permissions()

    @api_doc(
        "Upload a record's file",
        tags=["records"],
        description=(
            "multipart/form-data: `field_name` (a File field) and `file`, at most 32 MB. "
            "Needs update permission; replaces the previous file."
        ),
        request={"field_name": "avatar", "file": "(the file)"},
        responses={200: FILE_EXAMPLE},
        errors=(403, 404, 413, 422),
    )
    def post(self, request, class_name, record_id):
        klass, record = _record(request.user, class_name, record_id, "update")
        field_name, upload = _receive(request._request, klass, query_params(request))
        try:
            value = files.record_file_attach(record=record, field_name=field_name, upload=upload)
        finally:
            os.unlink(upload.path)
        return Response(value)

    put = post

    @api_doc(
        "Download a record's file",
        tags=["records"],
        description="`?field_name=`: the file's bytes with its content type (read permission).",
        responses={200: None},
        errors=(403, 404, 422),
    )
    def get(self, request, class_name, record_id):
        klass, record = _record(request.user, class_name, record_id, "read")
        field_name = _file_field(klass, all_params(request).get("field_name"))
        stored = files.stored_file_for(record, field_name)
        handle = backend().open(stored.key) if stored is not None else None
        if handle is None:
            raise NotFound(f"no file in '{field_name}'")
        response = FileResponse(handle, content_type=stored.content_type, filename=stored.name)
        response["Content-Length"] = str(stored.size)
        return sandboxed(response)

    @api_doc(
        "Delete a record's file",
        tags=["records"],
        description="`field_name` in the query string or the form body; the field becomes null.",
        responses={200: None},
        errors=(403, 404, 422),
    )
    def delete(self, request, class_name, record_id):
        klass, record = _record(request.user, class_name, record_id, "update")
        field_name = _file_field(klass, all_params(request).get("field_name"))
        if not files.record_file_detach(record=record, field_name=field_name):
            raise NotFound(f"no file in '{field_name}'")
        return HttpResponse(status=200)


def _receive(django_request, klass, query: dict) -> tuple[str, files.Upload]:
    """Read `field_name` and `file` from the streamed body (the field name may also be in
    the query string); the file lands in a temporary file."""
    try:
        length = int(django_request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest("invalid Content-Length") from None
    if length > MAX_RECORD_FILE_BYTES + FORM_OVERHEAD_BYTES:
        raise TooLarge(_TOO_LARGE)
    field_name, upload = query.get("field_name"), None
    try:
        for part in parts(django_request):
            if part.name == "field_name":
                field_name = _file_field(klass, part.text())
            elif part.name == "file" and upload is None:
                upload = _stage(part)
    except FormError as exc:
        _discard(upload, django_request)
        raise BadRequest(str(exc)) from None
    except BaseException:
        _discard(upload, django_request)
        raise
    if upload is None:
        raise Unprocessable({"file": ["is required"]})
    try:
        return _file_field(klass, field_name), upload
    except Unprocessable:
        _discard(upload, django_request)
        raise


def _stage(part) -> files.Upload:
    handle, path = tempfile.mkstemp(prefix="record-file-")
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in part.chunks():
                size += len(chunk)
                if size > MAX_RECORD_FILE_BYTES:
                    raise TooLarge(_TOO_LARGE)
                out.write(chunk)
    except BaseException:
        os.unlink(path)
        raise
    name = os.path.basename(part.filename or "") or "file"
    return files.Upload(path=path, size=size, name=name[:255], content_type=_content_type(part))


def _content_type(part) -> str:
    declared = part.content_type
    if declared and len(declared) <= 100 and MIME_RE.match(declared):
        return declared
    guessed = mimetypes.guess_type(part.filename or "")[0]
    return guessed or "application/octet-stream"


def _discard(upload, django_request) -> None:
    """Drop what was received: the staged file, and the unread rest of the body."""
    if upload is not None and os.path.exists(upload.path):
        os.unlink(upload.path)
    discard_rest(django_request)

"""The Storage API (`/blobs`, API.md §7). Views are thin: look the blob up as the caller
may see it, hand the input to a service, answer JSON.

`/blobs/{x}` means two things, told apart by the shape of `x`: 32 or more hex characters
is a uid (GET answers a 302 to the file), anything else is the integer id (GET answers
the blob's JSON; PUT edits; DELETE deletes). Integer ids never reach 32 digits.
"""

from django.http import HttpResponse, HttpResponseRedirect
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.authentication import HasUserSession, session_for_token, token_from
from blobs import services
from blobs.backends import backend
from blobs.models import Blob, is_uid
from blobs.serializers import blob_json, upload_access_json
from classes.types import CoercionError, coerce_integer
from config.api.errors import Forbidden, NotFound, Unauthorized, Unprocessable
from config.api.indexes import is_index
from config.api.params import all_params, query_params
from config.api.schema import api_doc
from config.api.views import ApiView

MAX_PER_PAGE = 100
BLOB_EXAMPLE = {
    "id": 46919,
    "uid": "763ef825ad8748239ed07def2c14555100",
    "content_type": "image/jpeg",
    "name": "cat.jpeg",
    "size": None,
    "public": False,
    "blob_status": None,
    "created_at": "2026-11-22T10:26:01Z",
    "updated_at": "2026-11-22T10:26:01Z",
    "set_completed_at": None,
}
ACCESS_EXAMPLE = {
    "id": 46919,
    "blob_id": 46919,
    "expires": "2026-11-22T11:26:01Z",
    "object_access_type": "Write",
    "params": "http://127.0.0.1:8000/blobs/upload?key=763ef825ad8748239ed07def2c14555100"
    "&Content-Type=image%2Fjpeg&Expires=...&success_action_status=201&policy=...&signature=...",
}


def find_blob(caller, ident: str, *, write: bool = False) -> Blob:
    """The blob `ident` (id or uid) names in the caller's application, if the caller may see
    it (owner, or any session for a public blob) or change it (owner only)."""
    blobs = Blob.objects.filter(application=caller.application)
    if is_uid(ident):
        blob = blobs.filter(uid=ident).first()
    elif is_index(ident):
        blob = blobs.filter(pk=int(ident)).first()
    else:
        blob = None
    if blob is None:
        raise NotFound("File not found")
    if caller.is_admin or (caller.user_id is not None and blob.owner_id == caller.user_id):
        return blob
    if blob.public and not write:
        return blob
    raise Forbidden()


def _blob_input(request) -> dict:
    params = all_params(request)
    nested = params.get("blob")
    return nested if isinstance(nested, dict) else params


def _page_param(params: dict, name: str, default: int, maximum: int | None = None) -> int:
    try:
        value = coerce_integer(params.get(name, default))
    except CoercionError:
        raise Unprocessable({name: ["must be an integer"]}) from None
    if value < 1 or (maximum is not None and value > maximum):
        bound = f"between 1 and {maximum}" if maximum else "at least 1"
        raise Unprocessable({name: [f"must be {bound}"]})
    return value


class BlobsView(ApiView):
    permission_classes = [HasUserSession]

    @api_doc(
        "The caller's blobs",
        operation_id="blobs_list",
        tags=["storage"],
        description="`page` from 1, `per_page` 1 to 100 (default 10).",
        responses={
            200: {
                "current_page": 1,
                "per_page": 10,
                "total_entries": 1,
                "items": [{"blob": BLOB_EXAMPLE}],
            }
        },
        errors=(403, 422),
    )
    def get(self, request):
        params = query_params(request)
        page = _page_param(params, "page", 1)
        per_page = _page_param(params, "per_page", 10, MAX_PER_PAGE)
        blobs = Blob.objects.filter(application=request.user.application, owner=request.user.user)
        start = (page - 1) * per_page
        return Response(
            {
                "current_page": page,
                "per_page": per_page,
                "total_entries": blobs.count(),
                "items": [{"blob": blob_json(b)} for b in blobs[start : start + per_page]],
            }
        )

    @api_doc(
        "Create a blob",
        tags=["storage"],
        description=(
            "`params` of `blob_object_access` is the upload URL with every form field in its "
            "query string: POST those fields and then `file` as multipart to that URL, then "
            "declare the upload complete."
        ),
        request={"blob": {"name": "cat.jpeg", "content_type": "image/jpeg", "public": False}},
        responses={201: {"blob": {**BLOB_EXAMPLE, "blob_object_access": ACCESS_EXAMPLE}}},
        errors=(403, 422),
    )
    def post(self, request):
        data = _blob_input(request)
        blob = services.blob_create(
            caller=request.user,
            name=data.get("name"),
            content_type=data.get("content_type"),
            public=data.get("public"),
        )
        return Response(_with_upload_access(blob, request), status=201)


def _with_upload_access(blob: Blob, request) -> dict:
    url, fields = backend().upload_access(blob, request)
    return {
        "blob": {**blob_json(blob), "blob_object_access": upload_access_json(blob, url, fields)}
    }


class BlobView(ApiView):
    """`/blobs/{ident}`: a uid-shaped GET is a download (and authenticates itself, so a
    public file needs no session); everything else is the blob by id."""

    def _is_download(self) -> bool:
        request, kwargs = getattr(self, "request", None), getattr(self, "kwargs", None) or {}
        return (
            request is not None
            and request.method in ("GET", "HEAD")
            and is_uid(kwargs.get("ident", ""))
        )

    def get_authenticators(self):
        return [] if self._is_download() else super().get_authenticators()

    def get_permissions(self):
        if self._is_download():
            return [AllowAny()]
        if self.request.method in ("PUT", "DELETE"):
            return [HasUserSession()]
        return super().get_permissions()

    @api_doc(
        "A blob by id, or its download by uid",
        tags=["storage"],
        description=(
            "An integer id answers the blob's JSON (its owner, or any session of the "
            "application for a public blob). A uid (32 or more hex characters) answers a 302 "
            "to the file, as `/blobs/{uid}/download` does."
        ),
        responses={200: {"blob": BLOB_EXAMPLE}, 302: None},
        errors=(403, 404),
    )
    def get(self, request, ident):
        if self._is_download():
            return redirect_to_object(request, ident)
        return Response({"blob": blob_json(find_blob(request.user, ident))})

    @api_doc(
        "Edit a blob",
        tags=["storage"],
        description="Owner only. `new=1` reopens the blob for a fresh upload.",
        request={"blob": {"name": "dog.png", "content_type": "image/png", "new": 1}},
        responses={200: {"blob": {**BLOB_EXAMPLE, "blob_object_access": ACCESS_EXAMPLE}}},
        errors=(403, 404, 422),
    )
    def put(self, request, ident):
        blob = find_blob(request.user, ident, write=True)
        blob, reopened = services.blob_update(blob=blob, data=_blob_input(request))
        if reopened:
            return Response(_with_upload_access(blob, request))
        return Response({"blob": blob_json(blob)})

    @api_doc(
        "Delete a blob",
        tags=["storage"],
        description="Owner only; the stored file is removed too.",
        responses={200: None},
        errors=(403, 404),
    )
    def delete(self, request, ident):
        services.blob_delete(blob=find_blob(request.user, ident, write=True))
        return HttpResponse(status=200)


class CompleteView(ApiView):
    permission_classes = [HasUserSession]

    @api_doc(
        "Declare a blob uploaded",
        tags=["storage"],
        description='The stored file must exist with exactly this size (`{"blob": {"size": N}}` works too).',
        request={"size": 70980},
        responses={200: None},
        errors=(403, 404, 422),
    )
    def put(self, request, ident):
        blob = find_blob(request.user, ident, write=True)
        size = _blob_input(request).get("size")
        services.blob_complete(blob=blob, size=size)
        return HttpResponse(status=200)

    post = put  # the source document's curl example posts


class ObjectView(ApiView):
    @api_doc(
        "A blob by uid",
        tags=["storage"],
        description="With `download_url=1`, a download URL as well (complete blobs only).",
        responses={
            200: {
                "blob": {
                    **BLOB_EXAMPLE,
                    "blob_object_access": {
                        "id": 46919,
                        "blob_id": 46919,
                        "object_access_type": "Read",
                        "download_url": "http://127.0.0.1:8000/blobs/763e.../content?expires=...",
                        "dowload_url": "http://127.0.0.1:8000/blobs/763e.../content?expires=...",
                    },
                }
            }
        },
        errors=(403, 404),
    )
    def get(self, request, uid):
        blob = find_blob(request.user, uid)
        body = blob_json(blob)
        if query_params(request).get("download_url") not in (None, "", "0", "false"):
            _require_complete(blob)
            url = backend().download_url(blob, request)
            body["blob_object_access"] = {
                "id": blob.pk,
                "blob_id": blob.pk,
                "object_access_type": "Read",
                "download_url": url,
                "dowload_url": url,
            }
        return Response({"blob": body})


def _require_complete(blob: Blob) -> None:
    if not blob.is_complete:
        raise NotFound("File is not uploaded yet")


def redirect_to_object(request, uid: str) -> HttpResponse:
    """302 to the object. A public blob needs no session (a stale token is ignored); a
    private one needs its owner's token, as the CB-Token header or `?token=`."""
    blob = Blob.objects.filter(uid=uid).first()
    if blob is None:
        raise NotFound("File not found")
    if not blob.public:
        _check_owner(request, blob)
    _require_complete(blob)
    response = HttpResponseRedirect(backend().download_url(blob, request))
    response["Cache-Control"] = "no-store"
    return response


def _check_owner(request, blob: Blob) -> None:
    token = token_from(request)
    session = session_for_token(token) if token else None
    if session is None:
        raise Unauthorized()
    if session.application_id != blob.application_id:
        raise NotFound("File not found")
    if session.user_id != blob.owner_id:
        raise Forbidden()


class DownloadView(ApiView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @api_doc(
        "Download a blob",
        tags=["storage"],
        auth=False,
        description=(
            "302 to the file (`Cache-Control: no-store`), complete blobs only. A public blob "
            "needs no session; a private one its owner's token, as `CB-Token` or `?token=`."
        ),
        responses={302: None},
        errors=(401, 403, 404),
    )
    def get(self, request, uid):
        return redirect_to_object(request, uid)

"""The Storage module: the blobs of an application."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import ApiUser
from blobs.models import MAX_BLOB_BYTES, Blob
from config.api.errors import ApiError
from console.base import admin_caller, application_or_404, error_lines, render

PAGE_SIZE = 50


def storage_url(app) -> str:
    return reverse("admin:console_storage", args=[app.pk])


def blob_list(request, app_id):
    app = application_or_404(app_id)
    blobs = Blob.objects.filter(application=app).select_related("owner").order_by("-id")
    page = Paginator(blobs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/storage.html",
        app,
        title="Storage",
        section="storage",
        page=page,
        users=app.users.order_by("-id")[:200],  # suggestions; any user id may be typed
        has_users=app.users.exists(),
    )


@require_POST
def blob_upload(request, app_id):
    """Upload a file as a blob of the chosen user: created, stored and completed in one go,
    through the same functions as POST /blobs, the upload endpoint and /complete."""
    app = application_or_404(app_id)
    uploaded = request.FILES.get("file")
    owner = ApiUser.objects.filter(application=app, pk=request.POST.get("owner") or 0).first()
    if uploaded is None or owner is None:
        messages.error(request, "Choose a file and its owner.")
        return HttpResponseRedirect(storage_url(app))
    if uploaded.size > MAX_BLOB_BYTES:
        messages.error(request, "A file is at most 100 MB.")
        return HttpResponseRedirect(storage_url(app))
    try:
        blob = _store(app, owner, uploaded, public=request.POST.get("public") == "1")
    except ApiError as exc:
        for line in error_lines(exc.errors):
            messages.error(request, line)
    else:
        messages.success(request, f"File “{blob.name}” uploaded ({blob.size} bytes).")
    return HttpResponseRedirect(storage_url(app))


def _store(app, owner, uploaded, *, public: bool) -> Blob:
    from blobs.services import MIME_RE, blob_complete, blob_create, blob_delete
    from blobs.upload import store_stream

    caller = admin_caller(app, on_behalf_of=owner)
    content_type = uploaded.content_type or ""
    if not MIME_RE.match(content_type) or len(content_type) > 50:
        content_type = "application/octet-stream"
    blob = blob_create(
        caller=caller,
        name=(uploaded.name or "file")[:100],
        content_type=content_type,
        public=public,
    )
    try:
        store_stream(blob.key, uploaded.chunks(), (0, MAX_BLOB_BYTES))
        return blob_complete(blob=blob, size=uploaded.size)
    except BaseException:
        blob_delete(blob=blob)
        raise


def blob_download(request, app_id, blob_id):
    from blobs.backends import storage

    app = application_or_404(app_id)
    blob = get_object_or_404(Blob, application=app, pk=blob_id, blob_status="complete")
    return FileResponse(
        storage().open(blob.key, "rb"),
        as_attachment=True,
        filename=blob.name,
        content_type=blob.content_type,
    )


def blob_delete(request, app_id, blob_id):
    app = application_or_404(app_id)
    blob = get_object_or_404(Blob, application=app, pk=blob_id)
    if request.method == "POST":
        from blobs.services import blob_delete

        blob_delete(blob=blob)
        messages.success(request, f"File “{blob.name}” deleted.")
        return HttpResponseRedirect(storage_url(app))
    return render(
        request, "console/blob_delete.html", app, title="Delete file?", section="storage", blob=blob
    )

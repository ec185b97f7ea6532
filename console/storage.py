"""The Storage module: the blobs of an application."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse

from blobs.models import Blob
from console.base import application_or_404, render

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
        users=app.users.order_by("login", "id")[:500],
    )


def blob_upload(request, app_id):
    raise NotImplementedError


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
        messages.success(request, f"File “{blob.name}” deleted.")
        return HttpResponseRedirect(storage_url(app))
    return render(
        request, "console/blob_delete.html", app, title="Delete file?", section="storage", blob=blob
    )

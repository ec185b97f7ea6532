"""The filesystem backend's downloads: `/blobs/{uid}/content?expires=&signature=`, the
short-lived URL `/blobs/{uid}` redirects to. The signature (HMAC over SECRET_KEY) is the
whole authorisation, so the URL works in an <img> tag or a plain download manager."""

from django.http import FileResponse
from django.views.decorators.csrf import csrf_exempt

from blobs.backends import backend, download_signature_ok
from blobs.models import Blob
from config.api.errors import json_error


@csrf_exempt  # it only reads; other methods get the JSON 405 below, not Django's CSRF page
def content_view(request, uid: str):
    if request.method not in ("GET", "HEAD"):
        return json_error(405, "method not allowed")
    expires, signature = request.GET.get("expires"), request.GET.get("signature")
    if not download_signature_ok(uid, expires, signature):
        return json_error(403, "the download link is invalid or has expired")
    blob = Blob.objects.filter(uid=uid).first()
    if blob is None or not blob.is_complete:
        return json_error(404, "File not found")
    handle = backend().open(blob.key)
    if handle is None:
        return json_error(404, "File not found")
    response = FileResponse(handle, content_type=blob.content_type, filename=blob.name)
    response["Cache-Control"] = "private, max-age=600"
    return sandboxed(response)


def sandboxed(response):
    """Files are served from the API's own origin, the console's too: whatever their
    declared type, they must not run script or be sniffed into something else."""
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response

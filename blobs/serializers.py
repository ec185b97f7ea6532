from datetime import UTC

from blobs.models import Blob


def _iso(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def blob_json(blob: Blob) -> dict:
    return {
        "id": blob.pk,
        "uid": blob.uid,
        "content_type": blob.content_type,
        "name": blob.name,
        "size": blob.size,
        "public": blob.public,
        "blob_status": blob.blob_status,
        "created_at": _iso(blob.created_at),
        "updated_at": _iso(blob.updated_at),
        "set_completed_at": _iso(blob.set_completed_at),
    }


def upload_access_json(blob: Blob, url: str, fields: dict) -> dict:
    """`blob_object_access` for an upload: `params` is the upload URL with every form field
    in its query string, percent-encoded (the SDK decodes with decodeURIComponent, which
    does not read `+` as a space)."""
    from urllib.parse import quote, urlencode

    query = urlencode(fields, quote_via=quote, safe="")
    return {
        "id": blob.pk,
        "blob_id": blob.pk,
        "expires": _iso(blob.upload_expires_at),
        "object_access_type": "Write",
        "params": f"{url}?{query}",
    }

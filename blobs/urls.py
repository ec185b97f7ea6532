"""Routes of the Storage API and of record files. `.json` is stripped before these match.

`blobs/upload` and the `/blobs/{uid}/...` sub-routes come before `blobs/<ident>`; the
record-file route lives here because records/urls.py does not match a trailing `/file`.
"""

from django.urls import path

from blobs import api, content, files_api, upload

urlpatterns = [
    path("blobs", api.BlobsView.as_view(), name="blobs"),
    path("blobs/upload", upload.upload_view, name="blob-upload"),
    path("blobs/<str:ident>", api.BlobView.as_view(), name="blob-by-ident"),
    path("blobs/<str:ident>/complete", api.CompleteView.as_view(), name="blob-complete"),
    path("blobs/<str:uid>/download", api.DownloadView.as_view(), name="blob-download"),
    path("blobs/<str:uid>/object", api.ObjectView.as_view(), name="blob-object"),
    path("blobs/<str:uid>/content", content.content_view, name="blob-content"),
    path(
        "data/<str:class_name>/<str:record_id>/file",
        files_api.RecordFileView.as_view(),
        name="record-file",
    ),
]

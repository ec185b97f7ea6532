"""The console's screens under one application; mounted by ApplicationAdmin.get_urls."""

from functools import wraps

from django.contrib import admin
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path

from config.api.errors import ApiError
from config.replica import replica_view
from console import audit, custom, importing, records, storage
from console.base import error_lines


def console_page(view):
    """A missing object, or a refusal a service raised past the view, as a console page
    (the project's 404 handler answers JSON, which is right for the API only)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return _problem(request, 404, ["This page does not exist (any more)."])
        except ApiError as exc:
            return _problem(request, exc.status, error_lines(exc.errors))

    return wrapped


def _problem(request, status: int, lines: list[str]):
    context = {**admin.site.each_context(request), "title": "Not done", "lines": lines}
    return TemplateResponse(request, "console/problem.html", context, status=status)


def console_patterns(wrap) -> list:
    """`wrap` is admin_site.admin_view: only active staff users pass."""
    table = [
        ("custom/", custom.custom_index, "console_custom"),
        ("custom/add/", custom.class_add, "console_class_add"),
        ("custom/schema.json", custom.schema_export, "console_schema_export"),
        ("custom/schema/import/", custom.schema_import, "console_schema_import"),
        ("custom/<str:class_name>/", custom.class_detail, "console_class"),
        ("custom/<str:class_name>/delete/", custom.class_delete, "console_class_delete"),
        (
            "custom/<str:class_name>/permissions/",
            custom.class_permissions,
            "console_class_permissions",
        ),
        ("custom/<str:class_name>/fields/add/", custom.field_add, "console_field_add"),
        (
            "custom/<str:class_name>/fields/<str:field_name>/index/",
            custom.field_index,
            "console_field_index",
        ),
        (
            "custom/<str:class_name>/fields/<str:field_name>/remove/",
            custom.field_remove,
            "console_field_remove",
        ),
        ("custom/<str:class_name>/import/", importing.class_import, "console_class_import"),
        ("custom/<str:class_name>/export/", records.class_export, "console_class_export"),
        ("custom/<str:class_name>/records/", records.record_list, "console_records"),
        ("custom/<str:class_name>/records/add/", records.record_add, "console_record_add"),
        (
            "custom/<str:class_name>/records/delete/",
            records.records_delete_selected,
            "console_records_delete",
        ),
        ("custom/<str:class_name>/records/<str:record_id>/", records.record_edit, "console_record"),
        (
            "custom/<str:class_name>/records/<str:record_id>/delete/",
            records.record_delete,
            "console_record_delete",
        ),
        (
            "custom/<str:class_name>/records/<str:record_id>/permissions/",
            records.record_permissions,
            "console_record_permissions",
        ),
        (
            "custom/<str:class_name>/records/<str:record_id>/cell/<str:field_name>/",
            records.record_cell,
            "console_record_cell",
        ),
        ("records/<str:record_id>/", records.record_by_id, "console_record_by_id"),
        (
            "custom/<str:class_name>/records/<str:record_id>/file/<str:field_name>/",
            records.record_file,
            "console_record_file",
        ),
        ("audit/", audit.audit_list, "console_audit"),
        ("users/import/", importing.users_import, "console_users_import"),
        ("storage/", storage.blob_list, "console_storage"),
        ("storage/upload/", storage.blob_upload, "console_blob_upload"),
        ("storage/<int:blob_id>/download/", storage.blob_download, "console_blob_download"),
        ("storage/<int:blob_id>/delete/", storage.blob_delete, "console_blob_delete"),
    ]
    return [
        path(route, wrap(console_page(_on_replica(view, name))), name=name)
        for route, view, name in table
    ]


# Pages that only list, count or export: with a read replica, they read from it (lag of
# a moment is harmless there). Forms that edit read the primary, so no stale value is
# saved back.
REPLICA_PAGES = {
    "console_custom",
    "console_schema_export",
    "console_class_export",
    "console_records",
    "console_audit",
    "console_storage",
}


def _on_replica(view, name):
    return replica_view(view) if name in REPLICA_PAGES else view

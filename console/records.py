"""The record browser of a class: list, filter, sort, create, edit, delete, permissions,
files, import and export. Every read goes through the query module and every write through
the record services, as an administrator of the application."""

import json
import os
import tempfile
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.db import transaction
from django.http import (
    FileResponse,
    Http404,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from classes.models import RECORD_ACTIONS, FieldType
from config.api.errors import ApiError, Unprocessable
from config.api.indexes import parse_int
from config.replica import REPLICA, replica_configured
from console.base import (
    admin_caller,
    application_or_404,
    class_or_404,
    error_lines,
    render,
    subject_caller,
)
from console.forms import INVALID_LEVELS, record_permission_forms
from console.record_forms import RecordForm
from records.models import Record

PAGE_SIZES = (25, 50, 100, 200)
COUNT_CAP = 10_000
# The filter operators of the query language (API.md §5), and the field types each applies
# to (records/query/parse.py refuses the others the same way). `or` puts the condition in
# the one OR group of a query: at least one of the `or` conditions must hold.
OPERATORS = [
    ("eq", "=", "integer float string boolean date array"),
    ("ne", "≠", "integer float string boolean date array"),
    ("gt", ">", "integer float string date"),
    ("gte", "≥", "integer float string date"),
    ("lt", "<", "integer float string date"),
    ("lte", "≤", "integer float string date"),
    ("ctn", "contains", "integer float string"),
    ("in", "in (a,b,…)", "integer float string boolean date array"),
    ("nin", "not in (a,b,…)", "integer float string boolean date array"),
    ("all", "has all (a,b,…)", "array"),
    ("near", "near (lon,lat;metres)", "location"),
    ("or", "OR group: one of (a,b,…)", "integer float string boolean date array"),
]
SYSTEM_COLUMNS = ["_id", "user_id", "_parent_id", "created_at", "updated_at"]
SYSTEM_TYPES = {
    "_id": "string",
    "user_id": "integer",
    "_parent_id": "string",
    "created_at": "integer",
    "updated_at": "integer",
}
DEFAULT_HIDDEN = {"updated_at"}


def records_url(klass, **params) -> str:
    url = reverse("admin:console_records", args=[klass.application_id, klass.name])
    return f"{url}?{urlencode(params)}" if params else url


def record_url(record) -> str:
    klass = record.object_class
    return reverse("admin:console_record", args=[klass.application_id, klass.name, record.id])


def utc_text(seconds: int) -> str:
    """Record times (Unix seconds) as the console shows them everywhere: UTC date and time."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def record_or_404(klass, record_id) -> Record:
    return get_object_or_404(Record, object_class=klass, id=record_id)


# --- the browser ----------------------------------------------------------------------------


def filter_rows(request) -> list[tuple[str, str, str]]:
    """The filter rows of the browser's query string: f=age&op=gt&v=30 (repeatable)."""
    fields, ops, values = (request.GET.getlist(k) for k in ("f", "op", "v"))
    return [(f, o, v) for f, o, v in zip(fields, ops, values, strict=False) if f]


def criteria(rows) -> dict:
    """Filter rows -> the conditions of the API's list parameters (API.md §5). Several `or`
    rows on one field join their values, as `age[or]=1,2` does."""
    params: dict = {}
    for field, op, value in rows:
        if op == "eq":
            params[field] = value
            continue
        params.setdefault(field, {})
        if not isinstance(params[field], dict):
            params[field] = {"eq": params[field]}
        if op == "or" and "or" in params[field]:
            value = f"{params[field]['or']},{value}"
        params[field][op] = value
    return params


def query_params(rows, sort: str) -> dict:
    """Filter rows and a sort column -> the parameters the API list takes."""
    key = "sort_desc" if sort.startswith("-") else "sort_asc"
    return {**criteria(rows), key: sort.lstrip("-") or "_id"}


def page_total(klass, caller, rows, page_number, size: int) -> tuple[int, bool]:
    """(total, exact): the records of the view counted up to COUNT_CAP (or just past the
    page asked for). An exact count of a million rows costs ~0.2 s, a capped one a few
    milliseconds; beyond the cap the pager says "more than"."""
    from records.query import count_up_to

    cap = max(COUNT_CAP, _page_number(page_number) * size + 1)
    total = count_up_to(klass, criteria(rows), caller, cap)
    return total, total < cap


def _page_number(raw) -> int:
    return max(1, parse_int(str(raw or "1")) or 1)


def search_page(klass, caller, rows, sort: str, page_number, size: int) -> tuple[list, dict]:
    """One page of records and the pager, through the query module: the same filters,
    sorting, permission rule and errors as the API's list. The query module caps `limit` at
    100, so a bigger page is read in windows of 100.

    Without filters the total is counted here (capped, a few milliseconds). With filters it
    is not: a condition no index serves makes the count read the whole class (~0.5 s on a
    million records) even when the page itself is found at once, so the page shows first and
    asks for its total afterwards (`?total=1`, `record_total`)."""
    from records.query import search
    from records.query.parse import MAX_LIMIT

    number = _page_number(page_number)
    total = exact = None
    if not rows:
        total, exact = page_total(klass, caller, rows, number, size)
        number = min(number, max(1, -(-total // size)))
    params = query_params(rows, sort)
    records = []
    for skip in range((number - 1) * size, number * size, MAX_LIMIT):
        window = {"skip": str(skip), "limit": str(min(MAX_LIMIT, number * size - skip))}
        found = search(klass, {**params, **window}, caller).records
        records.extend(found)
        if len(found) < MAX_LIMIT:
            break
    if total is None:  # known so far: this page, and a next one if this one is full
        pages = number + 1 if len(records) == size else number
        return records, pager(number, pages, None, exact=False)
    return records, pager(number, max(1, -(-total // size)), total, exact)


def pager(number: int, pages: int, total: int | None, exact: bool = True) -> dict:
    """The page links: the first, the last (when the total is exact), and two either side
    of the current page. `total` None: not counted yet."""
    last = pages if exact else min(pages, number + 2)
    shown = sorted({1, last, *range(max(1, number - 2), min(pages, number + 2) + 1)})
    links, previous = [], 0
    for page in shown:
        if page - previous > 1:
            links.append(None)  # a gap
        links.append(page)
        previous = page
    if not exact:
        links.append(None)
    return {
        "number": number,
        "pages": pages,
        "count": total,
        "exact": exact,
        "links": links,
        "previous": number - 1 if number > 1 else None,
        "next": number + 1 if number < pages else None,
    }


def grid_settings(request, klass, all_columns: list[str]) -> tuple[list[str], int]:
    """The columns shown, in order, and the page size: from the query string when it gives
    them, then remembered for this class in the operator's session."""
    key = f"console:grid:{klass.pk}"
    kept = request.session.get(key, {})
    if "cols" in request.GET:
        wanted = [c for c in request.GET["cols"].split(",") if c in all_columns]
        kept["cols"] = ["_id", *[c for c in wanted if c != "_id"]]
    if request.GET.get("size", "").isdigit() and int(request.GET["size"]) in PAGE_SIZES:
        kept["size"] = int(request.GET["size"])
    if "cols" in request.GET or "size" in request.GET:
        request.session[key] = kept
    columns = [c for c in kept.get("cols", []) if c in all_columns]
    if not columns:
        columns = [c for c in all_columns if c not in DEFAULT_HIDDEN]
    return columns, kept.get("size", PAGE_SIZES[0])


def record_list(request, app_id, class_name):
    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    fields = list(klass.fields.all())
    by_name = {f.name: f for f in fields}
    all_columns = SYSTEM_COLUMNS + [f.name for f in fields]
    columns, size = grid_settings(request, klass, all_columns)
    rows = filter_rows(request)
    sort = request.GET.get("sort", "_id")
    query_errors, items, page = [], [], None
    viewer, viewer_label = subject_caller(app, request.GET.get("as"))
    if viewer is None and viewer_label:
        query_errors = [viewer_label]
    if request.GET.get("total") == "1":
        return record_total(request, app, klass, viewer, rows, size)
    try:
        caller = viewer or admin_caller(app)
        items, page = search_page(klass, caller, rows, sort, request.GET.get("page"), size)
    except ApiError as exc:
        query_errors = error_lines(exc.errors)
    keep = [(k, v) for k in ("f", "op", "v", "as") for v in request.GET.getlist(k)]
    types = {**SYSTEM_TYPES, **{f.name: f.type for f in fields}}
    return render(
        request,
        "console/records.html",
        app,
        title=f"{klass.name}: records",
        section="custom",
        klass=klass,
        columns=[{"name": c, "type": types[c], "field": c in by_name} for c in columns],
        all_columns=[{"name": c, "shown": c in columns, "type": types[c]} for c in all_columns],
        hidden_columns=[c for c in all_columns if c not in columns],
        filter_columns=[(c, types[c]) for c in all_columns if types[c] != FieldType.FILE],
        rows=[_row(record, columns, by_name) for record in items],
        add_cells=_add_cells(klass, columns, by_name) if viewer is None else None,
        page=page,
        size=size,
        page_sizes=PAGE_SIZES,
        sort=sort,
        filters=rows or [("", "eq", "")],
        operators=OPERATORS,
        query_errors=query_errors,
        viewer=viewer_label if viewer else "",
        viewing_as=request.GET.get("as", "") if viewer else "",
        users=app.users.order_by("-id")[:200],
        filter_query=urlencode(keep),
        sort_query=urlencode([*keep, ("sort", sort)]),
        export_query=urlencode([(k, v) for k, v in keep]),
    )


def record_total(request, app, klass, viewer, rows, size: int) -> JsonResponse:
    """`?total=1`: the view's total, which a filtered page asks for once it is shown."""
    try:
        total, exact = page_total(
            klass, viewer or admin_caller(app), rows, request.GET.get("page"), size
        )
    except ApiError as exc:
        return JsonResponse({"errors": error_lines(exc.errors)}, status=exc.status)
    return JsonResponse({"count": total, "exact": exact, "pages": max(1, -(-total // size))})


def _add_cells(klass, columns: list[str], by_name: dict) -> list:
    """The inputs of the browser's add row, one per shown column (the record form's own)."""
    form = RecordForm(klass=klass, auto_id="add_%s")
    names = {"user_id": "owner", "_parent_id": "parent_id"}
    cells = []
    for column in columns:
        name = names.get(column, column)
        field = by_name.get(name)
        usable = name in form.fields and (field is None or field.type != FieldType.FILE)
        cells.append(form[name] if usable else None)
    return cells


def _row(record, columns: list[str], by_name: dict) -> dict:
    system = {
        "_id": {"text": record.id, "link": "record"},
        "user_id": {"text": record.user_id, "link": "user", "null": record.user_id is None},
        "_parent_id": {"text": record.parent_id, "link": "parent", "null": not record.parent_id},
        "created_at": {"text": utc_text(record.created_at), "title": record.created_at},
        "updated_at": {"text": utc_text(record.updated_at), "title": record.updated_at},
    }
    cells = []
    for name in columns:
        if name in system:
            cells.append({"name": name, "system": True, **system[name]})
        else:
            field = by_name[name]
            editable = field.type != FieldType.FILE
            cells.append({"name": name, "edit": editable, **cell(field, record.data.get(name))})
    return {"record": record, "cells": cells}


def cell(field, value) -> dict:
    """How a value shows in the browser: text, and whether it is null or a file."""
    if value is None:
        return {"null": True, "text": "null"}
    if field.type == FieldType.FILE and isinstance(value, dict):
        return {"file": field.name, "text": value.get("name") or "file"}
    if field.type == FieldType.BOOLEAN:
        return {"text": "true" if value else "false"}
    if field.type in (FieldType.ARRAY, FieldType.LOCATION):
        return {"text": json.dumps(value, ensure_ascii=False)}
    text = str(value)
    return {"text": text if len(text) <= 80 else text[:79] + "…", "title": text}


def record_by_id(request, app_id, record_id):
    """A `_parent_id` link: the record's page, whatever its class."""
    app = application_or_404(app_id)
    record = get_object_or_404(
        Record.objects.select_related("object_class"), application=app, id=record_id
    )
    return HttpResponseRedirect(record_url(record))


def record_cell(request, app_id, class_name, record_id, field_name):
    """Inline edit of one cell: GET answers the field's typed input (the record form's own
    widget), POST saves that one value through `record_update` and answers the new cell."""
    from django.template.loader import render_to_string

    from records.services import record_update

    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    record = record_or_404(klass, record_id)
    field = klass.field_map().get(field_name)
    if field is None or field.type == FieldType.FILE:
        raise Http404("no such editable field")
    form = RecordForm(request.POST or None, klass=klass, record=record, only=field_name)
    if request.method == "POST" and form.is_valid():
        try:
            changes = form.record_data()
            if changes:
                record = record_update(
                    caller=admin_caller(app), klass=klass, record_id=record.id, changes=changes
                )
        except ApiError as exc:
            _to_form_errors(form, exc)
        else:
            return JsonResponse({"cell": cell(field, record.data.get(field_name))})
    html = render_to_string("console/_cell_form.html", {"form": form}, request=request)
    status = 422 if request.method == "POST" else 200
    return JsonResponse({"form": html}, status=status)


@require_POST
def records_delete_selected(request, app_id, class_name):
    from records.services import records_delete

    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    ids = request.POST.getlist("selected")
    if ids:
        result = records_delete(caller=admin_caller(app), klass=klass, record_ids=ids)
        messages.success(request, f"{len(result.deleted)} record(s) deleted.")
    else:
        messages.warning(request, "Select the records to delete first.")
    return HttpResponseRedirect(request.POST.get("next") or records_url(klass))


# --- one record -----------------------------------------------------------------------------


def record_add(request, app_id, class_name):
    from records.services import record_create

    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    form = RecordForm(request.POST or None, request.FILES or None, klass=klass)
    service_errors = []
    if request.method == "POST" and form.is_valid():
        data = form.record_data()
        if form.cleaned_data.get("parent_id"):
            data["_parent_id"] = form.cleaned_data["parent_id"]
        try:
            with transaction.atomic():
                caller = admin_caller(app, on_behalf_of=form.cleaned_data.get("owner"))
                record = record_create(caller=caller, klass=klass, data=data)
                _save_files(request, form, record)
        except ApiError as exc:
            service_errors = _to_form_errors(form, exc)
        else:
            if request.POST.get("inline"):
                return JsonResponse({"_id": record.id})
            messages.success(request, f"Record {record.id} created.")
            return HttpResponseRedirect(record_url(record))
    if request.method == "POST" and request.POST.get("inline"):  # the browser's add row
        return JsonResponse({"errors": form.errors}, status=422)
    return _record_page(request, app, klass, form, None, service_errors)


def record_edit(request, app_id, class_name, record_id):
    from records.services import record_update

    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    record = record_or_404(klass, record_id)
    form = RecordForm(request.POST or None, request.FILES or None, klass=klass, record=record)
    service_errors = []
    if request.method == "POST" and form.is_valid():
        data = form.record_data()
        if "parent_id" in form.changed_data:
            data["_parent_id"] = form.cleaned_data["parent_id"] or None
        try:
            with transaction.atomic():
                if data:
                    record = record_update(
                        caller=admin_caller(app), klass=klass, record_id=record.id, changes=data
                    )
                _save_files(request, form, record)
        except ApiError as exc:
            service_errors = _to_form_errors(form, exc)
        else:
            messages.success(request, f"Record {record.id} saved.")
            return HttpResponseRedirect(record_url(record))
    return _record_page(request, app, klass, form, record, service_errors)


def _record_page(request, app, klass, form, record, service_errors):
    from records.permissions import explain

    subject, subject_label = subject_caller(app, request.GET.get("why")) if record else (None, "")
    return render(
        request,
        "console/record_form.html",
        app,
        title=f"{klass.name}: {record.id if record else 'new record'}",
        section="custom",
        klass=klass,
        record=record,
        created=utc_text(record.created_at) if record else "",
        updated=utc_text(record.updated_at) if record else "",
        form=form,
        service_errors=service_errors,
        file_values={f.name: form.current_file(f.name) for f in form.file_fields()},
        users=app.users.order_by("-id")[:200],
        why_asked=request.GET.get("why", ""),
        why_label=subject_label,
        why=explain(subject, record, klass).values() if subject else (),
    )


def _to_form_errors(form, exc: ApiError) -> list[str]:
    """Errors of the services join the form's own, in the same places and style: a field's
    beside it (`_parent_id` beside parent_id), the rest above the fields."""
    errors = exc.errors if isinstance(exc.errors, dict) else {"base": [str(exc.errors)]}
    for key, messages_ in errors.items():
        name = "parent_id" if key == "_parent_id" else key
        for message in messages_ if isinstance(messages_, list) else [messages_]:
            if name in form.fields:
                form.add_error(name, str(message))
            else:
                form.add_error(None, str(message) if key == "base" else f"{key}: {message}")
    return []


def _save_files(request, form, record) -> None:
    """Uploads of File fields, and removals ticked on the form, through the record-file
    functions that POST/DELETE /data/{class}/{id}/file use."""
    from blobs import files
    from blobs.models import MAX_RECORD_FILE_BYTES

    for field in form.file_fields():
        uploaded = request.FILES.get(field.name)
        if uploaded is not None:
            if uploaded.size > MAX_RECORD_FILE_BYTES:
                raise Unprocessable({field.name: ["is over 32 MB"]})
            with staged(uploaded) as upload:
                files.record_file_attach(record=record, field_name=field.name, upload=upload)
        elif request.POST.get(f"{field.name}__clear"):
            files.record_file_detach(record=record, field_name=field.name)


@contextmanager
def staged(uploaded):
    """A Django upload as the `blobs.files.Upload` the record-file functions take: a local
    file (Django's own temporary file when it made one)."""
    from blobs.files import Upload

    content_type = (uploaded.content_type or "application/octet-stream")[:100]
    if hasattr(uploaded, "temporary_file_path"):
        yield Upload(
            uploaded.temporary_file_path(), uploaded.size, uploaded.name[:255], content_type
        )
        return
    handle, path = tempfile.mkstemp(prefix="console-file-")
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in uploaded.chunks():
                out.write(chunk)
        yield Upload(path, uploaded.size, uploaded.name[:255], content_type)
    finally:
        os.unlink(path)


def record_delete(request, app_id, class_name, record_id):
    from records.services import record_delete as delete_one

    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    record = record_or_404(klass, record_id)
    if request.method == "POST":
        delete_one(caller=admin_caller(app), klass=klass, record_id=record.id)
        messages.success(request, f"Record {record_id} deleted.")
        return HttpResponseRedirect(records_url(klass))
    children = Record.objects.filter(application=app, parent_id=record.id).count()
    return render(
        request,
        "console/record_delete.html",
        app,
        title=f"Delete record {record.id}?",
        section="custom",
        klass=klass,
        record=record,
        children=children,
    )


def record_permissions(request, app_id, class_name, record_id):
    """“Set permissions on record”: read, update, delete, each with its level."""
    from records.services import record_update

    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    record = record_or_404(klass, record_id)
    forms = record_permission_forms(_record_levels(record), request.POST or None)
    service_errors = []
    if request.method == "POST" and not all([form.is_valid() for form in forms]):
        service_errors = [INVALID_LEVELS]
    elif request.method == "POST":
        permissions = {form.action: form.value() for form in forms}
        try:
            record_update(
                caller=admin_caller(app),
                klass=klass,
                record_id=record.id,
                changes={"permissions": permissions},
            )
        except ApiError as exc:
            service_errors = error_lines(exc.errors)
        else:
            messages.success(request, f"Permissions of record {record.id} saved.")
            return HttpResponseRedirect(record_url(record))
    switched = [a for a in RECORD_ACTIONS if klass.uses_class_permissions(a)]
    notice = (
        f"The class uses its own permissions for {', '.join(switched)}: the record's level for "
        "those actions is kept but has no effect until the switch is turned off."
        if switched
        else ""
    )
    return render(
        request,
        "console/permissions.html",
        app,
        title=f"Set permissions on record {record.id}",
        section="custom",
        klass=klass,
        record=record,
        forms=forms,
        service_errors=service_errors,
        notice=notice,
        intro="Each action has its own level for this record.",
        back_url=record_url(record),
    )


def _record_levels(record) -> dict:
    return {
        action: {
            "access": getattr(record, f"{action}_access"),
            "ids": getattr(record, f"{action}_ids"),
            "groups": getattr(record, f"{action}_groups"),
        }
        for action in RECORD_ACTIONS
    }


def record_file(request, app_id, class_name, record_id, field_name):
    """The file of a File field, streamed from storage."""
    from blobs.backends import storage
    from blobs.files import file_key

    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    record = record_or_404(klass, record_id)
    field = klass.field_map().get(field_name)
    value = record.data.get(field_name)
    if field is None or field.type != FieldType.FILE or not isinstance(value, dict):
        raise Http404("no file")
    handle = storage().open(file_key(value["file_id"]), "rb")
    return FileResponse(
        handle,
        as_attachment=True,
        filename=value.get("name") or field_name,
        content_type=value.get("content_type") or "application/octet-stream",
    )


# --- import and export ----------------------------------------------------------------------


EXPORT_TYPES = {"csv": "text/csv", "json": "application/json", "ndjson": "application/x-ndjson"}


def class_export(request, app_id, class_name):
    """The class's records as a download, streamed (no size limit in memory); with the
    browser's filters (and "view as"), exactly the records of that view, in `_id` order."""
    from records.importing import iter_export

    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    fmt = request.GET.get("format", "csv")
    if fmt not in EXPORT_TYPES:
        raise Http404("unknown format")
    records = None
    rows = filter_rows(request)
    viewer, _ = subject_caller(app, request.GET.get("as"))
    if rows or viewer:  # exactly the browser's view: its filters, as its viewer
        from records.query import matching

        records = matching(klass, criteria(rows), viewer or admin_caller(app), "read")
    if replica_configured():  # streamed after this view returns: the queryset names it
        base = records if records is not None else Record.objects.filter(object_class=klass)
        records = base.using(REPLICA)
    chunks = (chunk.encode() for chunk in iter_export(klass, fmt, records=records))
    response = StreamingHttpResponse(chunks, content_type=EXPORT_TYPES[fmt] + "; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{klass.name}.{fmt}"'
    return response

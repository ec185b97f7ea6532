"""Imports in the console, records and users: a dry run, an owner for imported records,
the progress as the file is read, and the refused rows as a file to download.

The upload is copied to a temporary file, then imported by the same functions as the
commands (`records.importing.import_records`, `accounts.importing.users_import`). When the
page asks for it (console.js sends `X-Console-Stream`), the import runs in a thread and the
answer streams one JSON line per progress step, then the result as HTML; without scripts
the answer is the result page.
"""

import base64
import csv
import io
import json
import os
import queue
import tempfile
import threading

from django.db import connections
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.template.loader import render_to_string
from django.urls import reverse

from config.api.indexes import parse_int
from config.streams import ImportFailed
from console.base import application_or_404, class_or_404, render

STREAM_HEADER = "X-Console-Stream"
MAX_ROW_CHARS = 2_000


def stage(upload) -> str:
    """The upload as a file of our own (read twice: import, then the refused rows)."""
    handle, path = tempfile.mkstemp(prefix="console-import-")
    with os.fdopen(handle, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


def rejected_rows_url(path: str, errors) -> str:
    """A CSV of the refused rows (line, reason, the row as the file has it on that line),
    as a data: URL the page offers as a download."""
    wanted = {}
    for line, message in errors:
        wanted.setdefault(line, []).append(message)
    rows = {}
    with open(path, "rb") as source:
        for number, raw in enumerate(source, 1):
            if number in wanted:
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                rows[number] = text[:MAX_ROW_CHARS]
            if len(rows) == len(wanted):
                break
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["line", "reason", "row"])
    for line, messages in wanted.items():
        writer.writerow([line, "; ".join(messages), rows.get(line, "")])
    return "data:text/csv;base64," + base64.b64encode(out.getvalue().encode()).decode()


def run(request, app, upload, job, page, context: dict):
    """Run `job(path, progress)` (the import, answering its report) on the staged upload.
    Without the stream header the answer is `page(result)`, a full page; with it, progress
    lines and then the result as HTML (templates/console/_import_report.html). `result` is
    {"report", "problems", "rejected_url"} and `context`."""
    path = stage(upload)
    if not request.headers.get(STREAM_HEADER):
        return page({**context, **_result(job, path, None)})
    total = os.path.getsize(path)
    return StreamingHttpResponse(
        _stream(request, job, path, total, context, app), content_type="application/x-ndjson"
    )


def _result(job, path, progress) -> dict:
    """Import, then read the refused rows back; the staged file is removed either way."""
    try:
        report, problems = job(path, progress), []
    except ImportFailed as exc:
        report, problems = None, [str(exc)]
    except Exception as exc:  # shown to the operator rather than lost in a thread
        report, problems = None, [f"the import failed: {exc}"]
    try:
        rejected = rejected_rows_url(path, report.errors) if report and report.errors else ""
    finally:
        os.unlink(path)
    return {"report": report, "problems": problems, "rejected_url": rejected}


def _stream(request, job, path, total, context, app):
    """The import in a thread; its progress, then its result, as JSON lines. Should the
    page go away, the thread still finishes the import and removes the file."""
    steps: queue.Queue = queue.Queue()

    def progress(rows, read_bytes):
        steps.put(("progress", {"rows": rows, "bytes": read_bytes, "total": total}))

    def work():
        try:
            steps.put(("done", _result(job, path, progress)))
        finally:
            connections.close_all()  # this thread's own connection

    threading.Thread(target=work, name="console-import", daemon=True).start()
    while True:
        kind, value = steps.get(timeout=3600)
        if kind == "progress":
            yield json.dumps({"progress": value}) + "\n"
        else:
            result = {**context, **value, "console_app": app}
            html = render_to_string("console/_import_report.html", result, request=request)
            yield json.dumps({"done": html}) + "\n"
            return


# --- the views --------------------------------------------------------------------------


def class_import(request, app_id, class_name):
    """Records from CSV/JSON/NDJSON through the pipeline of `manage.py import_records`."""
    from records.importing import import_records

    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    if request.method != "POST" or "file" not in request.FILES:
        return HttpResponseRedirect(reverse("admin:console_class", args=[app.pk, klass.name]))
    upload = request.FILES["file"]
    owner = parse_int(request.POST.get("owner") or "")
    dry_run = bool(request.POST.get("dry_run"))

    def job(path, progress):
        with open(path, "rb") as stream:
            return import_records(
                klass,
                stream,
                request.POST.get("format") or None,
                name=upload.name,
                owner_id=owner,
                dry_run=dry_run,
                on_conflict=request.POST.get("on_conflict") or "error",
                progress=progress,
            )

    def page(result):
        return render(
            request,
            "console/import_result.html",
            app,
            title=f"Import into {klass.name}",
            section="custom",
            **result,
        )

    context = {"filename": upload.name, "noun": "record", "klass": klass}
    return run(request, app, upload, job, page, context)


def users_import(request, app_id):
    """Users from CSV or JSON, each checked as a sign-up is (`manage.py import_users`)."""
    from accounts.importing import COLUMNS
    from accounts.importing import users_import as import_users

    app = application_or_404(app_id)
    page_context = {"columns": COLUMNS, "title": f"Import users into {app.name}"}
    if request.method != "POST" or "file" not in request.FILES:
        return render(request, "console/users_import.html", app, section="users", **page_context)
    upload = request.FILES["file"]
    dry_run = bool(request.POST.get("dry_run"))

    def job(path, progress):
        with open(path, "rb") as stream:
            return import_users(
                application=app,
                stream=stream,
                fmt=request.POST.get("format") or None,
                name=upload.name,
                dry_run=dry_run,
                progress=progress,
            )

    def page(result):
        return render(
            request, "console/users_import.html", app, section="users", **page_context, **result
        )

    return run(request, app, upload, job, page, {"filename": upload.name, "noun": "user"})

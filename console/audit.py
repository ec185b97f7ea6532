"""An application's audit trail: the entries the triggers of the audit app wrote for it."""

import json
from urllib.parse import urlencode

from django.core.paginator import Paginator

from audit.models import AuditEntry, Kind
from console.base import application_or_404, render

PAGE_SIZE = 50


def audit_list(request, app_id):
    app = application_or_404(app_id)
    entries = AuditEntry.objects.filter(application_id=app.pk).order_by("-id")
    kind = request.GET.get("kind", "")
    if kind in Kind.values:
        entries = entries.filter(kind=kind)
    if actor := request.GET.get("actor", "").strip():
        entries = entries.filter(actor__icontains=actor)
    if target := request.GET.get("target", "").strip():
        entries = entries.filter(target__icontains=target)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    keep = {k: v for k, v in (("kind", kind), ("actor", actor), ("target", target)) if v}
    return render(
        request,
        "console/audit.html",
        app,
        title="Audit trail",
        section="audit",
        page=page,
        rows=[_row(entry) for entry in page],
        kinds=Kind.choices,
        kind=kind,
        actor=actor,
        target=target,
        keep=urlencode(keep),
    )


def _row(entry: AuditEntry) -> dict:
    return {
        "entry": entry,
        "changes": [(key, _text(old), _text(new)) for key, old, new in entry.changes()],
    }


def _text(value) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

"""The Custom module: classes of an application, their fields and class permissions."""

import json

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from classes import services as class_services
from classes.models import Field, FieldType, ObjectClass
from config.api.errors import Unprocessable
from console.base import application_or_404, class_or_404, count_per, error_lines, render
from console.forms import (
    FILE_NOT_INDEXED,
    INVALID_LEVELS,
    ClassForm,
    FieldForm,
    FieldFormSet,
    class_permission_forms,
)
from records.models import Record


def class_url(klass: ObjectClass) -> str:
    return reverse("admin:console_class", args=[klass.application_id, klass.name])


def custom_index(request, app_id):
    app = application_or_404(app_id)
    classes = (
        ObjectClass.objects.filter(application=app)
        .annotate(
            record_count=count_per(Record, "object_class"),
            field_count=count_per(Field, "object_class"),
        )
        .order_by("name")
    )
    return render(
        request, "console/custom_index.html", app, title="Custom", section="custom", classes=classes
    )


def class_add(request, app_id):
    """“Add new class”: a name and at least one field, each with its type."""
    app = application_or_404(app_id)
    form = ClassForm(request.POST or None)
    formset = FieldFormSet(request.POST or None, prefix="fields", initial=[{}])
    service_errors = []
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        try:
            klass = class_services.class_create(
                application=app, name=form.cleaned_data["name"], fields=formset.fields_data()
            )
        except Unprocessable as exc:
            service_errors = error_lines(exc.errors)
        else:
            messages.success(request, f"Class “{klass.name}” created.")
            return HttpResponseRedirect(class_url(klass))
    return render(
        request,
        "console/class_add.html",
        app,
        title="Add new class",
        section="custom",
        form=form,
        formset=formset,
        service_errors=service_errors,
    )


def class_detail(request, app_id, class_name):
    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    return render(
        request,
        "console/class_detail.html",
        app,
        title=f"Class {klass.name}",
        section="custom",
        klass=klass,
        fields=klass.fields.all(),
        record_count=klass.records.count(),
        field_form=FieldForm(prefix="new"),
        users=app.users.order_by("-id")[:200],  # suggestions; any user id may be typed
        permissions=[
            (action, klass.permission(action)) for action in ("create", "read", "update", "delete")
        ],
    )


@require_POST
def field_add(request, app_id, class_name):
    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    form = FieldForm(request.POST, prefix="new")
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return HttpResponseRedirect(class_url(klass))
    try:
        field = class_services.field_add(klass=klass, **form.cleaned_data)
    except Unprocessable as exc:
        for line in error_lines(exc.errors):
            messages.error(request, line)
    else:
        messages.success(request, f"Field “{field.name}” added; existing records hold null for it.")
    return HttpResponseRedirect(class_url(klass))


@require_POST
def field_index(request, app_id, class_name, field_name):
    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    field = get_object_or_404(Field, object_class=klass, name=field_name)
    indexed = request.POST.get("indexed") == "1"
    if indexed and field.type == FieldType.FILE:
        messages.error(request, f"Field “{field.name}”: {FILE_NOT_INDEXED}")
        return HttpResponseRedirect(class_url(klass))
    try:
        class_services.field_set_indexed(field=field, indexed=indexed)
    except Unprocessable as exc:
        for line in error_lines(exc.errors):
            messages.error(request, f"Field “{field.name}”: {line}")
    else:
        verb = "indexed" if indexed else "no longer indexed"
        messages.success(request, f"Field “{field.name}” is {verb}.")
    return HttpResponseRedirect(class_url(klass))


def field_remove(request, app_id, class_name, field_name):
    """A confirmation page that says how many records lose a value, then the removal."""
    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    field = get_object_or_404(Field, object_class=klass, name=field_name)
    if request.method == "POST":
        had = class_services.field_remove(field=field)
        messages.success(
            request, f"Field “{field_name}” removed, with its value in {had} record(s)."
        )
        return HttpResponseRedirect(class_url(klass))
    return render(
        request,
        "console/field_remove.html",
        app,
        title=f"Remove field {field.name}?",
        section="custom",
        klass=klass,
        field=field,
        affected=class_services.records_affected(field),
    )


def class_delete(request, app_id, class_name):
    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    if request.method == "POST":
        deleted = class_services.class_delete(klass=klass)
        messages.success(request, f"Class “{class_name}” deleted with {deleted} record(s).")
        return HttpResponseRedirect(reverse("admin:console_custom", args=[app.pk]))
    return render(
        request,
        "console/class_delete.html",
        app,
        title=f"Delete class {klass.name}?",
        section="custom",
        klass=klass,
        record_count=klass.records.count(),
    )


def class_permissions(request, app_id, class_name):
    """“Edit permissions”: a level per action; "Use class permissions" for read/update/delete."""
    app = application_or_404(app_id)
    klass = class_or_404(app, class_name)
    forms = class_permission_forms(klass, request.POST or None)
    service_errors = []
    if request.method == "POST" and not all([form.is_valid() for form in forms]):
        service_errors = [INVALID_LEVELS]
    elif request.method == "POST":
        try:
            class_services.class_update_permissions(
                klass=klass, permissions={form.action: form.value() for form in forms}
            )
        except Unprocessable as exc:
            service_errors = error_lines(exc.errors)
        else:
            messages.success(request, f"Permissions of “{klass.name}” saved.")
            return HttpResponseRedirect(class_url(klass))
    return render(
        request,
        "console/permissions.html",
        app,
        title=f"Edit permissions: {klass.name}",
        section="custom",
        klass=klass,
        forms=forms,
        service_errors=service_errors,
        intro="Each action has its own level. With “Use class permissions” ticked, the class "
        "level applies to every record and the record's own permissions are ignored.",
        back_url=class_url(klass),
    )


def schema_export(request, app_id):
    """Every class of the application as the schema JSON that `import_classes` reads."""
    app = application_or_404(app_id)
    body = json.dumps(class_services.classes_export(application=app), indent=2)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="classes-{app.pk}.json"'
    return response


@require_POST
def schema_import(request, app_id):
    """A schema file (as `import_classes` takes it): new classes are made, existing ones get
    their missing fields and the permissions the file gives. All or nothing."""
    app = application_or_404(app_id)
    upload = request.FILES.get("file")
    back = HttpResponseRedirect(reverse("admin:console_custom", args=[app.pk]))
    if upload is None:
        messages.error(request, "Choose a schema file (JSON) first.")
        return back
    try:
        data = json.load(upload)
    except ValueError as exc:
        messages.error(request, f"The file is not JSON: {exc}")
        return back
    try:
        summary = class_services.classes_import(application=app, data=data)
    except Unprocessable as exc:
        for line in error_lines(exc.errors):
            messages.error(request, line)
        return back
    messages.success(request, schema_summary(summary))
    for klass, problems in summary.get("indexes_failed", {}).items():
        for field, message in problems.items():
            messages.warning(request, f"{klass}.{field} is not indexed: {message}")
    return back


def schema_summary(summary: dict) -> str:
    added = sum(len(names) for names in summary.get("fields_added", {}).values())
    created, updated = summary.get("created", []), summary.get("updated", [])
    return (
        f"Schema imported: {len(created)} class(es) created"
        + (f" ({', '.join(created)})" if created else "")
        + f", {len(updated)} updated, {added} field(s) added."
    )

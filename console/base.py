"""What every console screen shares: the application it works on and the page frame."""

from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from accounts.caller import Caller
from accounts.models import Application
from classes.models import ObjectClass


def count_per(model, parent: str):
    """How many `model` rows belong to each row of the list being annotated (`parent` names
    the foreign key), as a subquery: joining several related tables and counting would
    multiply their rows."""
    rows = (
        model.objects.filter(**{parent: OuterRef("pk")})
        .order_by()
        .values(parent)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows), 0)


def application_or_404(app_id: int) -> Application:
    return get_object_or_404(Application, pk=app_id)


def class_or_404(application: Application, name: str) -> ObjectClass:
    return get_object_or_404(ObjectClass, application=application, name=name)


def admin_caller(application: Application, on_behalf_of=None) -> Caller:
    """Console actions act as an administrator of the application (API.md §4.1); with
    `on_behalf_of` (an ApiUser), what they create belongs to that user."""
    if on_behalf_of is None:
        return Caller.admin(application)
    return Caller(
        application=application,
        user=on_behalf_of,
        is_admin=True,
        groups=tuple(on_behalf_of.tags),
    )


def render(request, template: str, application: Application, *, title: str, section: str, **ctx):
    """A console page: the admin's context, the application sidebar, and the page's own."""
    context = {
        **admin.site.each_context(request),
        "title": title,
        "console_app": application,
        "console_section": section,
        **ctx,
    }
    return TemplateResponse(request, template, context)


def error_lines(errors) -> list[str]:
    """`{"age": ["must be an integer"]}` -> ["age: must be an integer"]."""
    if isinstance(errors, dict):
        lines = []
        for key, messages in errors.items():
            for message in messages if isinstance(messages, list | tuple) else [messages]:
                lines.append(message if key == "base" else f"{key}: {message}")
        return lines
    return [str(errors)]


def subject_caller(application: Application, raw: str | None):
    """Whom a "why" panel or the browser's "view as" speaks for: `app` is a session of the
    application without a user, a number is a user of the application. Answers
    (Caller, label), (None, "") when nothing is asked, or (None, error) for an unknown user."""
    from accounts.models import ApiUser
    from config.api.indexes import parse_int

    raw = (raw or "").strip()
    if not raw:
        return None, ""
    if raw == "app":
        return Caller(application=application), "an application session (no user)"
    user_id = parse_int(raw)
    user = ApiUser.objects.filter(application=application, pk=user_id).first() if user_id else None
    if user is None:
        return None, f"No user of this application has the id {raw}."
    tags = f", tags {', '.join(user.tags)}" if user.tags else ""
    return Caller.for_user(user), f"user {user.pk} ({user}{tags})"

"""Reads of class schemas that several parts of the API share.

The class cache. Every API request names a class, and its schema (fields, permissions)
changes rarely, so each process keeps the classes it has loaded. An entry is served only
to a request that read the same schema version (`SchemaVersion`) in its session statement:
the version changes in the same transaction as any class or field change, so a request
that begins after a change has committed never sees the class as it was before. That is
why this cache is safe on any number of processes and nodes without a message between
them. Reads without a version (console, commands) always go to the database.
"""

from classes.models import ObjectClass
from config.api.errors import NotFound

MAX_CACHED = 10_000  # classes kept per process; past it the cache starts over
_cache: dict[tuple[int, str], tuple[int, ObjectClass]] = {}


def _load(application_id: int, name: str) -> ObjectClass | None:
    return (
        ObjectClass.objects.filter(application_id=application_id, name=name)
        .prefetch_related("fields")
        .first()
    )


def cached_class(application_id: int, name: str) -> tuple[int, ObjectClass] | None:
    """(schema version, class) as this process's cache holds it, or None; no query. A
    guess: serve it only to a request whose session read that version."""
    return _cache.get((application_id, name))


def class_by_name(*, application, name: str, schema_version: int | None = None) -> ObjectClass:
    """The application's class called `name`, with its fields loaded; a 404 if there is none
    (a class of another application is simply not found).

    With `schema_version` (the version the caller's session statement read) the class may
    come from this process's cache; it is then shared between requests: read it, never
    change it."""
    key = (application.pk, name)
    if schema_version is not None:
        hit = _cache.get(key)
        if hit is not None and hit[0] == schema_version:
            return hit[1]
    klass = _load(application.pk, name)
    if klass is None:
        raise NotFound("Class not found")
    if schema_version is not None:
        klass.field_map()  # filled now, so no request changes a shared instance
        if len(_cache) >= MAX_CACHED:
            _cache.clear()
        _cache[key] = (schema_version, klass)
    return klass

"""The optional read replica (DATABASE_REPLICA_URL) and the router that uses it.

Only reads that can tolerate replication lag go to the replica, and only where the code
says so: `with replica_reads():` (or `@replica_reads()`) around the console's lists, its
counts and the exports. Everything else reads the primary, so an API client always sees
its own writes. REPLICA_FOR_API_READS=1 also sends the API's record lists and reads to
the replica (records/api.py), for deployments that prefer read capacity to
read-your-writes.

Sessions, console users and permissions are always read from the primary, even inside a
replica block: a login or a logout must count at once.
"""

from contextlib import ContextDecorator
from contextvars import ContextVar

from django.conf import settings

REPLICA = "replica"
_use_replica: ContextVar[bool] = ContextVar("use_replica", default=False)
_ALWAYS_PRIMARY = {
    "sessions.session",
    "auth.user",
    "auth.group",
    "auth.permission",
    "contenttypes.contenttype",
    "admin.logentry",
    "accounts.apisession",
    "accounts.loginfailures",
}


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


class replica_reads(ContextDecorator):  # noqa: N801  (used like contextlib's helpers)
    """Reads in this block go to the replica, when there is one."""

    def __enter__(self):
        self.token = _use_replica.set(True)
        return self

    def __exit__(self, *exc):
        _use_replica.reset(self.token)
        return False


def replica_view(view):
    """A view whose reads go to the replica, its template rendered inside the block too
    (a TemplateResponse renders after the view returns, and its queries with it)."""
    from functools import wraps

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        with replica_reads():
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        return response

    return wrapped


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if _use_replica.get() and model._meta.label_lower not in _ALWAYS_PRIMARY:
            return REPLICA if replica_configured() else None
        return None  # the primary

    def db_for_write(self, model, **hints):
        return None

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, two copies

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA  # the replica follows the primary's schema

"""What must happen outside the database when applications or users are deleted.

accounts stands on the ground floor: classes, records and blobs build on it and it imports
none of them. Yet a deleted user's blobs, and a deleted application's blobs and record files,
have stored objects that no CASCADE removes. So the app that keeps them registers, in its
`AppConfig.ready()`, a function here; every path that deletes applications or users (the API,
the console) calls `before_owner_deletion` first, inside the deleting transaction.
"""

from collections.abc import Callable, Iterable

OwnerCleanup = Callable[..., object]
_cleanups: list[OwnerCleanup] = []


def on_owner_deletion(cleanup: OwnerCleanup) -> OwnerCleanup:
    """Register `cleanup(application_ids=..., owner_ids=...)`; called before the rows go."""
    if cleanup not in _cleanups:
        _cleanups.append(cleanup)
    return cleanup


def before_owner_deletion(
    *, application_ids: Iterable[int] = (), owner_ids: Iterable[int] = ()
) -> None:
    application_ids, owner_ids = list(application_ids), list(owner_ids)
    for cleanup in _cleanups:
        cleanup(application_ids=application_ids, owner_ids=owner_ids)

"""Who the audit triggers name as the actor of a change.

The triggers read the database session's `cubebase.actor` setting. The console sets it to
the operator for each request that may write (console.middleware); a `manage.py` command
starts its connections with it (`command_actor`, read by config/settings.py). An API
request sets nothing, so as not to add a statement to every request: the triggers then
name what only an API caller can have done (a record's permissions change only through its
owner; an administrator acts in the console).
"""

import re
from contextlib import contextmanager

from django.db import DatabaseError, connection

SETTING = "cubebase.actor"
_COMMAND_RE = re.compile(r"^[a-z][a-z0-9_]{0,60}$")
NOT_COMMANDS = {"runserver", "test", "migrate", "makemigrations"}


@contextmanager
def acting_as(actor: str):
    """Name `actor` for every change made inside, on this connection; reset afterwards.
    Session-level (not SET LOCAL), because a console request may run several transactions
    and statements outside any (CREATE INDEX CONCURRENTLY)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, false)", [SETTING, actor[:200]])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, '', false)", [SETTING])
        except DatabaseError:  # a broken connection is closed, its setting with it
            pass


def command_actor(argv: list[str]) -> str | None:
    """`manage.py import_classes 1 f.json` -> "command:import_classes"; None for the
    commands that serve requests or only build the schema."""
    name = argv[1] if len(argv) > 1 else ""
    if not _COMMAND_RE.match(name) or name in NOT_COMMANDS:
        return None
    return f"command:{name}"

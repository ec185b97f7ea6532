"""Failed-login throttling, shared by every process and node through PostgreSQL.

Each login attempt is checked against its keys before any password is hashed: the
application + login (or email) it names, and the client's address (console logins use
the console user name and the address). A key that collected LOGIN_MAX_FAILURES_* failures
within LOGIN_FAILURE_WINDOW_SECONDS is blocked for LOGIN_BLOCK_SECONDS: attempts then get
429 with Retry-After, cost one indexed SELECT, and do not count. A correct login costs the
same SELECT (no write, unless its login had failures to forget).

A blocked login can be unblocked early by deleting its row
(`DELETE FROM accounts_login_failures WHERE key = 'api:<application id>:<login>'`);
`cleanup_sessions` also removes the rows whose window and block are over.
"""

import math
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import LoginFailures

TABLE = LoginFailures._meta.db_table


@dataclass(frozen=True)
class Keys:
    """The keys of one attempt: the account's (cleared by a correct login) and the
    client's address (never cleared by a success, or one valid account would let an
    attacker reset it)."""

    account: str
    address: str | None
    account_limit: int
    address_limit: int

    @classmethod
    def api(cls, application_id: int, identifier: str, address: str | None) -> "Keys":
        return cls(
            account=f"api:{application_id}:{identifier.strip().lower()}",
            address=f"addr:{address}" if address else None,
            account_limit=settings.LOGIN_MAX_FAILURES_PER_LOGIN,
            address_limit=settings.LOGIN_MAX_FAILURES_PER_ADDRESS,
        )

    @classmethod
    def console(cls, username: str, address: str | None) -> "Keys":
        return cls(
            account=f"console:{username.strip().lower()}",
            address=f"addr:{address}" if address else None,
            account_limit=settings.LOGIN_MAX_FAILURES_PER_LOGIN,
            address_limit=settings.LOGIN_MAX_FAILURES_PER_ADDRESS,
        )

    def all(self) -> list[str]:
        return [self.account] + ([self.address] if self.address else [])


@dataclass(frozen=True)
class Verdict:
    retry_after: int  # seconds; 0 when the attempt may go on
    account_has_failures: bool


def check(keys: Keys) -> Verdict:
    """One SELECT: is any key blocked, and does the account carry failures to forget."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT key, extract(epoch FROM blocked_until - now()) FROM {TABLE}"
            " WHERE key = ANY(%s)",
            [keys.all()],
        )
        rows = cursor.fetchall()
    waits = [float(left) for _, left in rows if left is not None and left > 0]
    return Verdict(
        retry_after=math.ceil(max(waits)) if waits else 0,
        account_has_failures=any(key == keys.account for key, _ in rows),
    )


def record_failure(keys: Keys) -> None:
    """Count a failure under each key; a key reaching its limit is blocked. Atomic per
    key (one upsert), so concurrent failures on several nodes all count."""
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    block = settings.LOGIN_BLOCK_SECONDS
    limits = [(keys.account, keys.account_limit)]
    if keys.address:
        limits.append((keys.address, keys.address_limit))
    with transaction.atomic(), connection.cursor() as cursor:
        for key, limit in sorted(limits):  # one global lock order
            cursor.execute(
                f"""
                INSERT INTO {TABLE} AS t (key, failures, window_start, blocked_until)
                VALUES (%(key)s, 1, now(), CASE WHEN %(limit)s <= 1
                    THEN now() + make_interval(secs => %(block)s) END)
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN t.window_start < now() - make_interval(secs => %(window)s)
                        THEN 1 ELSE t.failures + 1 END,
                    window_start = CASE WHEN t.window_start < now() - make_interval(secs => %(window)s)
                        THEN now() ELSE t.window_start END,
                    blocked_until = CASE
                        WHEN t.window_start >= now() - make_interval(secs => %(window)s)
                             AND t.failures + 1 >= %(limit)s
                        THEN now() + make_interval(secs => %(block)s)
                        ELSE t.blocked_until END
                """,
                {"key": key, "limit": limit, "window": window, "block": block},
            )


def forget_account(keys: Keys) -> None:
    """A correct login clears its account's failures (not its address's)."""
    LoginFailures.objects.filter(key=keys.account).delete()


def purge_expired() -> int:
    """Rows whose window and block are both over (run by cleanup_sessions)."""
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    now = timezone.now()
    old = now - timezone.timedelta(seconds=window)
    deleted, _ = (
        LoginFailures.objects.filter(window_start__lt=old).exclude(blocked_until__gt=now).delete()
    )
    return deleted

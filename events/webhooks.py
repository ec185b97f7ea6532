"""Webhooks (API.md §9): which deliveries an event makes, how one is signed and sent.

Deliveries are made from the journal by `dispatch_pending` (run by the worker, never in a
request), in the same transaction that moves the dispatch position on and queues their
jobs, so each event is handed to each webhook exactly once and its job cannot be lost.
The job (events/tasks.py) sends it until a receiver answers 2xx: at least once, always
with the same `id` and body.
"""

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from classes.models import ObjectClass
from events import journal
from events.models import Attempt, Delivery, JournalState, Webhook
from records.serializers import record_json

TYPE_NAMES = {"create": "record.created", "update": "record.updated", "delete": "record.deleted"}
DISPATCH_ROWS = 2000
EXCERPT = 500


class TargetRefused(Exception):
    """A webhook URL this server will not call."""


# --- targets ------------------------------------------------------------------------------


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_target(url: str) -> None:
    """Refuse what is not http(s), and (unless WEBHOOKS_ALLOW_PRIVATE) any host that
    resolves to a loopback, private, link-local or otherwise non-public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("the URL must be http:// or https:// with a host")
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(f"cannot resolve {parts.hostname}: {exc}") from None
    for info in infos:
        if _blocked(info[4][0]):
            raise TargetRefused(
                f"{parts.hostname} resolves to {info[4][0]}, a loopback, private or "
                "link-local address (set WEBHOOKS_ALLOW_PRIVATE=1 to allow)"
            )


# --- signing ------------------------------------------------------------------------------


def signature(secret: str, body: str, at: int) -> str:
    """`X-Cube-Signature`: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    digest = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def verify(secret: str, body: str, header: str, *, tolerance: int = 300, now=None) -> bool:
    """What a receiver does (docs/events.md shows it standalone)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        at = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - at) > tolerance:
        return False
    expected = signature(secret, body, at).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


# --- making deliveries --------------------------------------------------------------------


def event_body(row, klass) -> str:
    version = row.new if row.new is not None else row.old
    return json.dumps(
        {
            "id": str(row.id),
            "type": TYPE_NAMES[row.op],
            "application_id": row.event.application_id,
            "class_name": klass.name,
            "occurred_at": row.event.occurred_at,
            "record": record_json(version, klass),
        },
        separators=(",", ":"),
    )


@transaction.atomic
def dispatch_pending(limit: int = DISPATCH_ROWS) -> list[int]:
    """Turn the journal's new rows into deliveries and queue a job for each; answers the
    new deliveries' ids. Concurrent dispatchers wait for each other (row lock)."""
    from events.tasks import deliver_webhook

    state, _ = JournalState.objects.select_for_update().get_or_create(pk=1)
    start = journal.Position(
        state.dispatched_lo or 0, state.dispatched_hi or 0, state.dispatched_seq
    )
    now = journal.now_position()  # taken first: a webhook that exists after it sees the rest
    if Webhook.objects.filter(enabled=True).exists():
        page = journal.read_final(start, limit)
        rows, position = page.rows, page.position
    else:  # nobody to deliver to: skip what was final until now
        rows, position = [], max(start, now, key=lambda p: p.lo)
    deliveries = _deliveries(rows)
    Delivery.objects.bulk_create(deliveries)
    if deliveries:
        deliver_webhook.batch_defer(*({"delivery_id": d.pk} for d in deliveries))
    state.dispatched_lo, state.dispatched_hi, state.dispatched_seq = (
        position.lo,
        position.hi,
        position.seq,
    )
    state.save(update_fields=["dispatched_lo", "dispatched_hi", "dispatched_seq"])
    return [d.pk for d in deliveries]


def _deliveries(rows) -> list[Delivery]:
    app_ids = {row.event.application_id for row in rows}
    hooks = {}
    for hook in Webhook.objects.filter(application_id__in=app_ids, enabled=True):
        hooks.setdefault(hook.application_id, []).append(hook)
    wanted = [row for row in rows if row.event.application_id in hooks]
    class_ids = {row.event.object_class_id for row in wanted}
    classes = {
        k.pk: k for k in ObjectClass.objects.filter(pk__in=class_ids).prefetch_related("fields")
    }
    out = []
    for row in wanted:
        klass = classes.get(row.event.object_class_id)
        if klass is None:  # the class itself was deleted since: nothing to describe it with
            continue
        for hook in hooks[row.event.application_id]:
            made_after = row.event.occurred_at >= int(hook.created_at.timestamp())
            if made_after and hook.wants(klass.name, row.op):
                body = event_body(row, klass)
                out.append(Delivery(webhook=hook, event_id=row.id, event_type=row.op, body=body))
    return out


# --- sending ------------------------------------------------------------------------------


def attempt(delivery: Delivery) -> bool:
    """POST the delivery once, log the attempt; answers whether it was delivered."""
    hook = delivery.webhook
    started = time.monotonic()
    status, excerpt, error = None, "", ""
    try:
        check_target(hook.url)
        at = int(time.time())
        response = httpx.post(
            hook.url,
            content=delivery.body.encode(),
            headers={
                "Content-Type": "application/json",
                "X-Cube-Signature": signature(hook.secret, delivery.body, at),
                "User-Agent": "cubebase-webhooks",
            },
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
        status, excerpt = response.status_code, response.text[:EXCERPT]
    except TargetRefused as exc:
        error = str(exc)[:EXCERPT]
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:EXCERPT]
    delivered = status is not None and 200 <= status < 300
    _log(delivery, status, excerpt, error, started, delivered)
    return delivered


def _log(delivery, status, excerpt, error, started, delivered) -> None:
    Attempt.objects.create(
        delivery=delivery,
        status_code=status,
        duration_ms=int((time.monotonic() - started) * 1000),
        excerpt=excerpt,
        error=error,
    )
    delivery.attempts += 1
    fields = ["attempts"]
    if delivered:
        delivery.status, delivery.delivered_at = Delivery.DELIVERED, timezone.now()
        fields += ["status", "delivered_at"]
    Delivery.objects.filter(pk=delivery.pk).update(**{f: getattr(delivery, f) for f in fields})


def resend(deliveries) -> int:
    """Queue every given delivery again (the console's "resend"), whatever its status."""
    from events.tasks import deliver_webhook

    ids = list(deliveries.values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=ids).update(status=Delivery.PENDING)
    if ids:
        deliver_webhook.batch_defer(*({"delivery_id": pk, "resend": True} for pk in ids))
    return len(ids)

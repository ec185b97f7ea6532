"""What one subscriber sees of a batch of journal rows (API.md §9), decided by the same
permission code as every read (`records.permissions.can`) and the same conditions SQL as a
list (`journal.matching_ids`).

For each row of the subscriber's class:
- create: `create` if the new record is readable and matches;
- delete: `delete` (id only) if the record was readable and matching before;
- update: `update` if readable and matching after; otherwise `leave` (id only) if it was
  readable and matching before; otherwise nothing. A record the subscriber could never see
  produces nothing at all, not even its id.
Class permissions are those of the class now; record permissions are the version's own.

With many subscribers, asking `can` for every subscriber and row costs ~10 us a pair (a
thousand subscribers at 200 writes/s would be two seconds of CPU a second). `Audience`
narrows each row to its *candidates* first: the subscribers a permission level could
possibly admit (the owner, the listed ids, the groups; everybody for `open`, for class
permissions, or for anything it does not recognise). It only ever leaves out subscribers
that `can` would refuse, and `can` still decides for every candidate, so the index can
make delivery cheaper but never let anyone see more.
"""

import asyncio
from dataclasses import dataclass, field, replace

from django.conf import settings

from config.jsontext import dumps
from events.journal import Position, Row
from records.permissions import can
from records.serializers import record_json

ALL_TYPES = frozenset({"create", "update", "delete"})


@dataclass
class Batch:
    """Rows read together, the classes they belong to (fresh), and for each distinct set
    of conditions the events whose new / old version matches it."""

    rows: list[Row]
    position: Position
    classes: dict = field(default_factory=dict)
    matches: dict = field(default_factory=dict)  # key -> ({new ids}, {old ids})


class Subscription:
    """One open stream: who is asking, for which class, under which conditions."""

    def __init__(self, *, caller, klass, query, conditions_key, types):
        self.caller = caller
        self.application_id = klass.application_id
        self.class_id = klass.pk
        self.query = query  # None when the subscription has no conditions
        self.conditions_key = conditions_key
        self.types = types
        self.session_id = caller.session.pk if caller.session else None
        self.queue = asyncio.Queue(maxsize=settings.EVENTS_QUEUE_SIZE)
        self.position: Position | None = None
        self.ended: str | None = None

    def offer(self, item) -> None:
        """Queue (text, position after it); a subscriber too slow to keep up is ended (it resumes with
        Last-Event-ID from the journal when it reconnects)."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.end("too slow")

    def end(self, reason: str) -> None:
        if self.ended is None:
            self.ended = reason
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            pass  # the reader checks `ended` before each batch

    def set_groups(self, groups: tuple) -> bool:
        """Take the user's current tags; answers whether they changed."""
        if groups == self.caller.groups:
            return False
        self.caller = replace(self.caller, groups=groups)
        return True

    @property
    def alike(self) -> tuple:
        """Everything `decide` reads of this subscription: two with the same get the same
        events (one user's several tabs, say), so a row is decided once for all of them."""
        caller = self.caller
        return (
            caller.user_id,
            caller.groups,
            caller.is_admin,
            self.conditions_key if self.query is not None else None,
            self.types,
        )


def _sees(sub, record, klass, matched, event_id) -> bool:
    if record is None or not can(sub.caller, record, "read", klass):
        return False
    return matched is None or event_id in matched


def decide(sub, row: Row, klass, matches) -> str | None:
    """The event `sub` gets for `row`: create, update, delete, leave, or None."""
    new_ids, old_ids = matches if matches is not None else (None, None)
    if row.op == "create":
        seen = "create" in sub.types and _sees(sub, row.new, klass, new_ids, row.id)
        return "create" if seen else None
    if row.op == "delete":
        seen = "delete" in sub.types and _sees(sub, row.old, klass, old_ids, row.id)
        return "delete" if seen else None
    if "update" not in sub.types:
        return None
    if _sees(sub, row.new, klass, new_ids, row.id):
        return "update"
    if _sees(sub, row.old, klass, old_ids, row.id):
        return "leave"
    return None


def _data(row: Row, klass, kind: str) -> str:
    """The `data:` line's JSON, built once per row and kind whoever receives it."""
    cache = row.__dict__.setdefault("_frames", {})
    full = kind in ("create", "update")
    if full not in cache:
        record = record_json(row.new, klass) if full else {"_id": row.event.record_id}
        cache[full] = dumps({"class_name": klass.name, "record": record})
    return cache[full]


def frame(event: str, data: str, position) -> str:
    return f"id: {position}\nevent: {event}\ndata: {data}\n\n"


class Audience:
    """The subscribers of one class, indexed by what a read permission can name."""

    def __init__(self):
        self.everyone: list = []
        self.by_user: dict = {}
        self.by_group: dict = {}
        self.admins: list = []

    def add(self, sub) -> None:
        self.everyone.append(sub)
        caller = sub.caller
        if caller.is_admin:
            self.admins.append(sub)
        if caller.user_id is not None:
            self.by_user.setdefault(caller.user_id, []).append(sub)
        for group in caller.groups:
            self.by_group.setdefault(str(group), []).append(sub)

    def candidates(self, version: dict | None, class_wide: bool) -> list:
        """A superset of the subscribers that may read a record version (a journal row's
        `new` or `old` as stored: the records row's columns; None: nobody). It reads the
        stored columns, not a Record, so a row nobody here may see costs no Record."""
        if version is None:
            return []
        if class_wide:  # the class's read permission decides, not the record's
            return self.everyone
        access = version.get("read_access")
        if access == "owner":
            found = list(self.by_user.get(version.get("user_id"), ()))
        elif access == "open_for_users_ids":
            ids = version.get("read_ids") or ()
            found = [s for i in ids for s in self.by_user.get(int(i), ())]
        elif access == "open_for_groups":
            groups = version.get("read_groups") or ()
            found = [s for g in groups for s in self.by_group.get(str(g), ())]
        else:  # open, or a level this index does not know: everybody is a candidate
            return self.everyone
        return found + self.admins


def audiences(subs) -> dict:
    """{class id: Audience} of the given subscriptions."""
    out = {}
    for sub in subs:
        out.setdefault(sub.class_id, Audience()).add(sub)
    return out


def fan_out(batch: Batch, by_class: dict) -> dict:
    """{subscription: SSE text} for one batch and all subscribers (only those who get
    something are in it). Same decisions as `render`, found through `Audience`."""
    out = {}
    class_wide = {}  # class id -> whether class permissions decide who reads
    for row in batch.rows:
        event = row.event
        audience = by_class.get(event.object_class_id)
        klass = batch.classes.get(event.object_class_id)
        if audience is None or klass is None:
            continue
        wide = class_wide.get(klass.pk)
        if wide is None:
            wide = class_wide[klass.pk] = klass.uses_class_permissions("read")
        subs = audience.candidates(event.new, wide)
        if event.old is not None:
            subs = list(dict.fromkeys(subs + audience.candidates(event.old, wide)))
        same = {}  # subscribers alike in all a decision reads get the same frame
        for sub in subs:
            if event.application_id != sub.application_id:
                continue
            key = sub.alike
            if key in same:
                text = same[key]
            else:
                matches = batch.matches.get(sub.conditions_key) if sub.query is not None else None
                kind = decide(sub, row, klass, matches)
                text = same[key] = (
                    None if kind is None else frame(kind, _data(row, klass, kind), row.position)
                )
            if text is not None:
                out.setdefault(sub, []).append(text)
    return {sub: "".join(frames) for sub, frames in out.items()}


def render(sub, batch: Batch) -> str:
    """The SSE text `sub` receives for `batch` (possibly empty); moves its position on."""
    out = []
    klass = batch.classes.get(sub.class_id)
    matches = batch.matches.get(sub.conditions_key) if sub.query is not None else None
    for row in batch.rows:
        event = row.event
        if klass is None or event.object_class_id != sub.class_id:
            continue
        if event.application_id != sub.application_id:
            continue
        kind = decide(sub, row, klass, matches)
        if kind is not None:
            out.append(frame(kind, _data(row, klass, kind), row.position))
    sub.position = batch.position
    return "".join(out)

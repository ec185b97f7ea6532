"""Record permissions (API.md §4): parsing, JSON, the single-record check, and the SQL gate.

The decision for action A on record R by caller U:
1. a console administrator may do everything;
2. the level is the class's for A when A is create or the class's switch for A is on,
   otherwise R's own level (the `<action>_access/_ids/_groups` columns);
3. open: any session (writes need a user); owner: U is R's user_id; not_allowed: nobody;
   open_for_groups: U's tags meet the groups; open_for_users_ids: U's id is listed.

`decide` answers that for one record in Python, with the rule that decided it (`can` is its
yes or no); `visible_q` answers it for a whole class as one SQL condition, so list, count,
skip and limit are right and nothing is filtered afterwards.
"""

from dataclasses import dataclass

from django.db.models import Q

from classes.models import RECORD_ACTIONS, RECORD_LEVELS
from config.api.errors import Forbidden, Unprocessable
from config.api.indexes import index_map_values, is_index_map, parse_int

READ = "read"
NOBODY = Q(pk__in=[])
EVERYBODY = Q()
_ID_KEYS = ("ids", "users_ids", "user_ids")
_GROUP_KEYS = ("groups", "users_groups", "user_groups")


# --- parsing ----------------------------------------------------------------------------


def parse_record_permissions(data) -> dict:
    """`permissions` as sent by a client -> Record column values for the actions given.

    `{"update": {"access": "open_for_users_ids", "ids": ["51941", "51943"]}}` ->
    `{"update_access": "open_for_users_ids", "update_ids": [51941, 51943], "update_groups": []}`.
    Lists may be comma-separated strings. Anything malformed is a 422 keyed `permissions`.
    """
    if data in (None, ""):
        return {}
    if not isinstance(data, dict):
        raise _invalid("must be an object of actions")
    columns = {}
    for action, spec in data.items():
        if action not in RECORD_ACTIONS:
            raise _invalid(f"unknown action '{action}' (read, update or delete)")
        columns.update(_parse_action(action, spec))
    return columns


def _parse_action(action: str, spec) -> dict:
    if isinstance(spec, str):  # permissions[read]=owner
        spec = {"access": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("access"), str):
        raise _invalid(f"{action}: access is required")
    access = spec["access"]
    if access not in RECORD_LEVELS:
        raise _invalid(f"{action}: '{access}' is not a record permission level")
    ids, groups = [], []
    if access == "open_for_users_ids":
        ids = _user_ids(action, _first(spec, _ID_KEYS))
    elif access == "open_for_groups":
        groups = _groups(action, _first(spec, _GROUP_KEYS))
    return {f"{action}_access": access, f"{action}_ids": ids, f"{action}_groups": groups}


def _first(spec: dict, keys):
    return next((spec[k] for k in keys if spec.get(k) not in (None, "", [])), None)


def _as_list(value) -> list:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if is_index_map(value):  # ids[0]=1&ids[1]=2 from a form
        return index_map_values(value)
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    return None


def _user_ids(action, value) -> list[int]:
    items = _as_list(value)
    if not items:
        raise _invalid(f"{action}: open_for_users_ids needs a list of user ids")
    ids = []
    for item in items:
        user_id = parse_int(str(item)) if not isinstance(item, bool) else None
        if user_id is None:
            raise _invalid(f"{action}: '{item}' is not a user id")
        ids.append(user_id)
    return sorted(set(ids))


def _groups(action, value) -> list[str]:
    items = _as_list(value)
    if not items or not all(isinstance(g, str) and g.strip() for g in items):
        raise _invalid(f"{action}: open_for_groups needs a list of group names")
    if any(len(g.strip()) > 100 for g in items):
        raise _invalid(f"{action}: a group name is at most 100 characters")
    return list(dict.fromkeys(g.strip() for g in items))


def _invalid(message: str) -> Unprocessable:
    return Unprocessable({"permissions": [message]})


# --- JSON -------------------------------------------------------------------------------


def record_permissions_json(record) -> dict:
    """The record's own permissions as the source document shows them: user ids as strings
    under `users_ids`, groups under `users_groups`."""
    out = {}
    for action in RECORD_ACTIONS:
        access = getattr(record, f"{action}_access")
        entry = {"access": access}
        if access == "open_for_users_ids":
            entry["users_ids"] = [str(i) for i in getattr(record, f"{action}_ids")]
        elif access == "open_for_groups":
            entry["users_groups"] = list(getattr(record, f"{action}_groups"))
        out[action] = entry
    return out


# --- the decision ------------------------------------------------------------------------


def class_level(klass, action: str) -> tuple[str, list, list]:
    """The class's (access, ids, groups) for `action`; lists stored as text are split."""
    spec = klass.permission(action)
    ids, groups = (_as_list(spec.get(key)) or [] for key in ("ids", "groups"))
    return spec.get("access", "not_allowed"), ids, groups


def is_allowed(caller, access: str, ids, groups, owner_id, action: str) -> bool:
    if caller.user is None:  # an application session reads open records, writes nothing
        return action == READ and access == "open"
    if access == "open":
        return True
    if access == "owner":
        return owner_id is not None and owner_id == caller.user_id
    if access == "open_for_users_ids":
        return str(caller.user_id) in {str(i) for i in ids}
    if access == "open_for_groups":
        return bool(set(caller.groups) & {str(g) for g in groups})
    return False  # not_allowed, or anything unknown


@dataclass(frozen=True)
class Decision:
    """The answer for one action, with what decided it. `source` is "administrator",
    "class" (the class's level: create, or its switch is on) or "record" (the record's)."""

    action: str
    allowed: bool
    source: str
    access: str = ""
    ids: tuple = ()
    groups: tuple = ()
    owner_id: int | None = None
    user_id: int | None = None
    user_groups: tuple = ()

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def reason(self) -> str:
        """One line an operator reads, e.g. "record permission update = owner; owner is 12,
        user is 15 → denied". Built from the inputs the decision used, nothing else."""
        verdict = "allowed" if self.allowed else "denied"
        if self.source == "administrator":
            return f"console administrator: every permission → {verdict}"
        rule = f"{self.source} permission {self.action} = {self.access}"
        if self.access == "open_for_groups":
            rule += f" [{', '.join(map(str, self.groups))}]"
        if self.access == "open_for_users_ids":
            rule += f" [{', '.join(map(str, self.ids))}]"
        return f"{rule}; {self._who()} → {verdict}"

    def _who(self) -> str:
        if self.user_id is None:
            return "application session (no user): it reads open records and writes nothing"
        if self.access == "owner":
            owner = "nobody" if self.owner_id is None else self.owner_id
            return f"owner is {owner}, user is {self.user_id}"
        if self.access == "open_for_groups":
            return f"user has tags [{', '.join(self.user_groups)}]"
        if self.access == "open_for_users_ids":
            return f"user is {self.user_id}"
        if self.access == "open":
            return "any user"
        return "nobody"

    def as_json(self) -> dict:
        body = {"allowed": self.allowed, "source": self.source, "reason": self.reason}
        if self.source != "administrator":
            body["access"] = self.access
            if self.access == "open_for_groups":
                body["groups"] = [str(g) for g in self.groups]
            if self.access == "open_for_users_ids":
                body["ids"] = [str(i) for i in self.ids]
        return body


def decide(caller, record, action: str, klass=None) -> Decision:
    """THE decision for `action` on one record (None: create in `klass`), with its reason.
    `can`, `check` and `can_create` (so the API, the console and the services) answer
    through its rule; the console's "why" panel and GET /data/{class}/{id}/why show it."""
    if caller.is_admin:
        return Decision(action, True, "administrator")
    klass = klass or record.object_class
    allowed, source, access, ids, groups, owner_id = _rule(caller, record, action, klass)
    return Decision(
        action,
        allowed,
        source,
        access,
        tuple(ids),
        tuple(groups),
        owner_id,
        caller.user_id,
        tuple(caller.groups),
    )


def _rule(caller, record, action: str, klass) -> tuple:
    """(allowed, source, access, ids, groups, owner id) for a caller who is not an
    administrator: the class's level (create, or its switch on) or the record's own."""
    if record is None or klass.uses_class_permissions(action):
        source = "class"
        access, ids, groups = class_level(klass, action)
    else:
        source = "record"
        access = getattr(record, f"{action}_access")
        ids = getattr(record, f"{action}_ids")
        groups = getattr(record, f"{action}_groups")
    owner_id = record.user_id if record is not None else None
    if record is None and access == "owner":  # not a create level: admits nobody
        allowed = False
    else:
        allowed = is_allowed(caller, access, ids, groups, owner_id, action)
    return allowed, source, access, ids, groups, owner_id


def can(caller, record, action: str, klass=None) -> bool:
    """May `caller` perform `action` on `record`? (klass defaults to the record's class.)
    The same rule as `decide`, without building the Decision: every read asks this, and
    live events ask it for every subscriber a row may concern."""
    if caller.is_admin:
        return True
    return _rule(caller, record, action, klass or record.object_class)[0]


def check(caller, record, action: str, klass=None) -> None:
    if not can(caller, record, action, klass):
        raise Forbidden()


def can_create(caller, klass) -> bool:
    """The class's create level; `owner` is not a create level and admits nobody."""
    return can(caller, None, "create", klass)


def check_create(caller, klass) -> None:
    if not can_create(caller, klass):
        raise Forbidden()


def visible_q(caller, klass, action: str) -> Q:
    """The records of `klass` on which `caller` may perform `action`, as a WHERE condition.
    `records.query.sql.visible` writes the same condition as SQL for lists and counts
    (tests/records/test_sql.py holds the two equal): change both together."""
    if caller.is_admin:
        return EVERYBODY
    if klass.uses_class_permissions(action):
        access, ids, groups = class_level(klass, action)
        if access == "owner":
            return Q(user_id=caller.user_id) if caller.user is not None else NOBODY
        allowed = is_allowed(caller, access, ids, groups, None, action)
        return EVERYBODY if allowed else NOBODY
    return _record_level_q(caller, action)


def _record_level_q(caller, action: str) -> Q:
    column = f"{action}_access"
    if caller.user is None:
        return Q(**{column: "open"}) if action == READ else NOBODY
    condition = Q(**{column: "open"}) | Q(**{column: "owner", "user_id": caller.user_id})
    condition |= Q(**{column: "open_for_users_ids", f"{action}_ids__contains": [caller.user_id]})
    if caller.groups:
        condition |= Q(
            **{column: "open_for_groups", f"{action}_groups__overlap": list(caller.groups)}
        )
    return condition


# --- why ---------------------------------------------------------------------------------


def explain(caller, record, klass=None) -> dict[str, Decision]:
    """Read, update and delete of `record` for `caller`: the decisions the API would make."""
    return {action: decide(caller, record, action, klass) for action in RECORD_ACTIONS}


def explanation_json(caller, record, klass=None) -> dict:
    """The body of GET /data/{class}/{id}/why (docs/custom-objects.md)."""
    return {
        "record_id": record.pk,
        "user_id": caller.user_id,
        "session": "user" if caller.user is not None else "application",
        "user_tags": list(caller.groups),
        "actions": {action: d.as_json() for action, d in explain(caller, record, klass).items()},
    }

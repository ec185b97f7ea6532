"""Records as the API shows them (API.md §5 and the source document)."""

from records.permissions import record_permissions_json


def record_json(
    record,
    klass,
    *,
    permissions: bool = True,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
) -> dict:
    """`_id`, `_parent_id`, every field of the class (null when not set), the system fields,
    and `permissions` unless left out. `include`/`exclude` project fields; `_id` stays."""
    data = record.data or {}
    out = {"_id": record.id, "_parent_id": record.parent_id}
    for name in klass.field_map():
        out[name] = data.get(name)
    out["created_at"] = record.created_at
    out["updated_at"] = record.updated_at
    out["user_id"] = record.user_id
    if permissions:
        out["permissions"] = record_permissions_json(record)
    if include is not None:
        keep = {"_id", *include}
        out = {k: v for k, v in out.items() if k in keep}
    elif exclude is not None:
        drop = set(exclude) - {"_id"}
        out = {k: v for k, v in out.items() if k not in drop}
    return out

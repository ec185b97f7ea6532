"""The OpenAPI description of the record operations for one class.

A class's fields are data, so the schema served at /api/schema/ can only say "an object of
fields" for a record body. `with_class_fields(schema, klass)` writes the class's own fields
into it: the body of a create, an update (plain values and operators), multi and
by-criteria writes, and the list's query parameters (`field`, `field[op]`, sort, skip,
limit, count, output, calc, group_by), each typed as §3 of the contract accepts it. The
fuzz tests give it to schemathesis; a client generator can use it the same way.
"""

import copy

from classes.models import FieldType

_INT64 = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
_DATE = {"type": "string", "format": "date-time"}
_LOCATION = {
    "type": "array",
    "items": [
        {"type": "number", "minimum": -180, "maximum": 180},
        {"type": "number", "minimum": -90, "maximum": 90},
    ],
    "minItems": 2,
    "maxItems": 2,
}
_SCALAR = {"anyOf": [{"type": "string", "maxLength": 50}, _INT64, {"type": "boolean"}]}
VALUE_SCHEMAS = {
    FieldType.INTEGER: _INT64,
    FieldType.FLOAT: {"type": "number", "minimum": -1e300, "maximum": 1e300},
    FieldType.STRING: {"type": "string", "maxLength": 200},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.ARRAY: {"type": "array", "items": _SCALAR, "maxItems": 10},
    FieldType.LOCATION: _LOCATION,
    FieldType.DATE: _DATE,
}
ORDERED = (FieldType.INTEGER, FieldType.FLOAT, FieldType.STRING, FieldType.DATE)
_LEVELS = ["open", "owner", "open_for_users_ids", "open_for_groups"]
PERMISSIONS = {
    "type": "object",
    "properties": {
        action: {
            "type": "object",
            "properties": {"access": {"type": "string", "enum": ["open", "owner"]}},
            "required": ["access"],
            "additionalProperties": False,
        }
        for action in ("read", "update", "delete")
    },
    "additionalProperties": False,
}
OBJECT_ID = {"type": "string", "pattern": "^[0-9a-f]{24}$"}


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}  # OpenAPI 3.0 has no "null" type


def _writable(klass) -> dict:
    """field name -> schema of a value a client may set (File fields go by their endpoint)."""
    return {
        f.name: VALUE_SCHEMAS[f.type] for f in klass.field_map().values() if f.type in VALUE_SCHEMAS
    }


def create_body(klass) -> dict:
    properties = {name: _nullable(schema) for name, schema in _writable(klass).items()}
    properties["permissions"] = PERMISSIONS
    return {"type": "object", "properties": properties, "additionalProperties": False}


def update_body(klass) -> dict:
    fields = klass.field_map().values()
    numbers = {
        f.name: {"type": "integer", "minimum": -1000, "maximum": 1000}
        for f in fields
        if f.type == FieldType.INTEGER
    }
    numbers |= {
        f.name: {"type": "number", "minimum": -1000, "maximum": 1000}
        for f in fields
        if f.type == FieldType.FLOAT
    }
    arrays = [f.name for f in fields if f.type == FieldType.ARRAY]
    body = create_body(klass)
    operators = {"inc": numbers}
    for op in ("push", "add_to_set", "pull"):
        operators[op] = {name: _SCALAR for name in arrays}
    operators["pull_all"] = {
        name: {"type": "array", "items": _SCALAR, "maxItems": 5} for name in arrays
    }
    operators["pop"] = {name: {"type": "integer", "enum": [1, -1]} for name in arrays}
    for op, properties in operators.items():
        if properties:
            body["properties"][op] = {
                "type": "object",
                "properties": properties,
                "additionalProperties": False,
                "minProperties": 1,
            }
    return body


def list_parameters(klass) -> list[dict]:
    """The list's query parameters: equality and operators per field, and the controls."""
    params = []
    fields = klass.field_map().values()
    for f in fields:
        if f.type not in VALUE_SCHEMAS or f.type in (FieldType.ARRAY, FieldType.LOCATION):
            continue
        value = VALUE_SCHEMAS[f.type]
        params.append(_query(f.name, value))
        params.append(_query(f"{f.name}[ne]", value))
        if f.type in ORDERED:
            params += [_query(f"{f.name}[{op}]", value) for op in ("gt", "gte", "lt", "lte")]
        if f.type == FieldType.STRING:
            params.append(_query(f"{f.name}[ctn]", {"type": "string", "maxLength": 20}))
    sortable = sorted(f.name for f in fields if f.type in ORDERED) + ["_id", "created_at"]
    numeric = [f.name for f in fields if f.type in (FieldType.INTEGER, FieldType.FLOAT)]
    params += [
        _query("limit", {"type": "integer", "minimum": 0, "maximum": 100}),
        _query("skip", {"type": "integer", "minimum": 0, "maximum": 10000}),
        _query("count", {"type": "integer", "enum": [0, 1]}),
        _query("sort_asc", {"type": "string", "enum": sortable}),
        _query("sort_desc", {"type": "string", "enum": sortable}),
        _query("_parent_id", OBJECT_ID),
    ]
    for name in numeric[:2]:
        params.append(
            _query(
                f"{name}[calc]", {"type": "string", "enum": ["avg", "min", "max", "sum", "count"]}
            )
        )
    return params


def _query(name: str, schema: dict) -> dict:
    return {"in": "query", "name": name, "required": False, "schema": schema}


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def record_schema(klass) -> dict:
    """A record as the API answers it: system fields, permissions and every field."""
    properties = {
        "_id": OBJECT_ID,
        "_parent_id": {**OBJECT_ID, "nullable": True},
        "user_id": {"type": "integer", "nullable": True},
        "created_at": {"type": "integer"},
        "updated_at": {"type": "integer"},
        "permissions": {"type": "object"},
    }
    for f in klass.field_map().values():
        # The type only: what is stored may exceed the bounds the fuzzer is asked to keep to
        answered = {"type": VALUE_SCHEMAS.get(f.type, {"type": "object"})["type"]}
        properties[f.name] = {**answered, "nullable": True}
    return {
        "type": "object",
        "properties": properties,
        "required": ["_id", "_parent_id", "user_id", "created_at", "updated_at"],
    }


def _list_schema(klass) -> dict:
    return {
        "type": "object",
        "properties": {
            "class_name": {"type": "string", "enum": [klass.name]},
            "skip": {"type": "integer"},
            "limit": {"type": "integer"},
            "items": {"type": "array", "items": {"type": "object"}},
            "items_count": {"type": "integer"},
        },
        "required": ["class_name"],
    }


def _answer(operation: dict, status: str, schema: dict) -> None:
    if status in operation.get("responses", {}):
        content = operation["responses"][status].setdefault("content", {})
        content.setdefault("application/json", {})["schema"] = schema


def with_class_fields(schema: dict, klass) -> dict:
    """A copy of the OpenAPI `schema` whose record operations describe `klass`."""
    schema = copy.deepcopy(schema)
    paths = schema["paths"]
    create, update = create_body(klass), update_body(klass)
    multi_update_item = copy.deepcopy(update)
    multi_update_item["properties"]["id"] = OBJECT_ID
    multi_update_item["required"] = ["id"]
    criteria_update = copy.deepcopy(update)
    criteria_update["properties"]["search_criteria"] = {
        "type": "object",
        "properties": {"age": {"type": "integer"}, "job": {"type": "string", "maxLength": 20}},
        "additionalProperties": False,
        "minProperties": 1,
    }
    criteria_update["required"] = ["search_criteria"]
    bodies = {
        ("/data/{class_name}", "post"): create,
        ("/data/{class_name}/{ids}", "put"): update,
        ("/data/{class_name}/multi", "post"): _batch(create),
        ("/data/{class_name}/multi", "put"): _batch(multi_update_item),
        ("/data/{class_name}/by_criteria", "put"): criteria_update,
    }
    for (path, method), body in bodies.items():
        operation = paths.get(path, {}).get(method)
        if operation is not None:
            operation["requestBody"] = _json_body(body)
    record = record_schema(klass)
    answers = {
        ("/data/{class_name}", "post", "201"): record,
        ("/data/{class_name}/{ids}", "put", "200"): record,
        ("/data/{class_name}", "get", "200"): _list_schema(klass),
    }
    for (path, method, status), answer in answers.items():
        operation = paths.get(path, {}).get(method)
        if operation is not None:
            _answer(operation, status, answer)
    listing = paths.get("/data/{class_name}", {}).get("get")
    if listing is not None:
        kept = [p for p in listing.get("parameters", []) if p["in"] != "query"]
        listing["parameters"] = kept + list_parameters(klass)
    return schema


def _batch(item: dict) -> dict:
    return {
        "type": "object",
        "properties": {"record": {"type": "array", "items": item, "minItems": 1, "maxItems": 5}},
        "required": ["record"],
        "additionalProperties": False,
    }

"""JSON Schemas of the request and answer bodies that do not depend on a class.

The views read plain JSON (no DRF serializers), so their exact shapes are written here, one
entry per operation, and `config.api.schema.complete_error_responses` puts them into the
OpenAPI document. The record operations, whose bodies are a class's fields, are described
per class by records/openapi.py.
"""

MIME = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,20}/[A-Za-z0-9][A-Za-z0-9.+-]{0,20}$",
}
ISO_TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {**ISO_TIME, "nullable": True}

SESSION = {
    "type": "object",
    "properties": {
        "session": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "application_id": {"type": "integer"},
                "user_id": {"type": "integer"},
                "token": {"type": "string"},
                "ts": {"type": "integer"},
                "created_at": ISO_TIME,
                "updated_at": ISO_TIME,
            },
            "required": ["id", "application_id", "user_id", "created_at", "updated_at"],
        }
    },
    "required": ["session"],
}
BLOB_FIELDS = {
    "id": {"type": "integer"},
    "uid": {"type": "string", "pattern": "^[0-9a-f]{32,}$"},
    "content_type": {"type": "string"},
    "name": {"type": "string"},
    "size": {"type": "integer", "minimum": 0, "nullable": True},
    "public": {"type": "boolean"},
    "blob_status": {"type": "string", "enum": ["complete", None], "nullable": True},
    "created_at": ISO_TIME,
    "updated_at": ISO_TIME,
    "set_completed_at": NULLABLE_TIME,
}
BLOB = {
    "type": "object",
    "properties": {
        "blob": {
            "type": "object",
            "properties": BLOB_FIELDS,
            "required": ["id", "uid", "name", "content_type", "public"],
        }
    },
    "required": ["blob"],
}
BLOB_LIST = {
    "type": "object",
    "properties": {
        "current_page": {"type": "integer"},
        "per_page": {"type": "integer"},
        "total_entries": {"type": "integer"},
        "items": {"type": "array", "items": BLOB},
    },
    "required": ["current_page", "per_page", "total_entries", "items"],
}
USER = {
    "type": "object",
    "properties": {
        "user": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "login": {"type": "string", "nullable": True},
                "email": {"type": "string", "nullable": True},
                "full_name": {"type": "string", "nullable": True},
            },
            "required": ["id"],
        }
    },
    "required": ["user"],
}

REQUESTS = {
    ("/session", "post"): {
        "type": "object",
        "properties": {
            "application_id": {"type": "integer", "minimum": 1},
            "auth_key": {"type": "string", "maxLength": 64},
            "user": {
                "type": "object",
                "properties": {
                    "login": {"type": "string", "maxLength": 100},
                    "email": {"type": "string", "maxLength": 100},
                    "password": {"type": "string", "maxLength": 100},
                },
                "required": ["password"],
                "additionalProperties": False,
            },
        },
        "required": ["application_id", "auth_key"],
        "additionalProperties": False,
    },
    ("/blobs", "post"): {
        "type": "object",
        "properties": {
            "blob": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "content_type": MIME,
                    "public": {"type": "boolean"},
                },
                "required": ["name", "content_type"],
                "additionalProperties": False,
            }
        },
        "required": ["blob"],
        "additionalProperties": False,
    },
    ("/blobs/{ident}", "put"): {
        "type": "object",
        "properties": {
            "blob": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "content_type": MIME,
                    "new": {"type": "boolean"},
                },
                "additionalProperties": False,
            }
        },
        "required": ["blob"],
        "additionalProperties": False,
    },
    ("/blobs/{ident}/complete", "put"): {
        "type": "object",
        "properties": {"size": {"type": "integer", "minimum": 0, "maximum": 100 * 1024 * 1024}},
        "required": ["size"],
        "additionalProperties": False,
    },
}
REQUESTS[("/blobs/{ident}/complete", "post")] = REQUESTS[("/blobs/{ident}/complete", "put")]

RESPONSES = {
    ("/session", "get", "200"): SESSION,
    ("/session", "post", "201"): SESSION,
    ("/blobs", "get", "200"): BLOB_LIST,
    ("/blobs", "post", "201"): BLOB,
    ("/blobs/{ident}", "put", "200"): BLOB,
    ("/blobs/{ident}/complete", "put", "200"): BLOB,
    ("/blobs/{ident}/complete", "post", "200"): BLOB,
    ("/blobs/{uid}/object", "get", "200"): BLOB,
    ("/users", "post", "201"): USER,
    ("/users/{user_id}", "get", "200"): USER,
}

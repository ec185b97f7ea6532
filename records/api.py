"""/data/{class_name}... (API.md §5). Thin: parameters in, query module or services, JSON out.

Reads may use an application session; every write needs a user session. Permissions are
decided in `records.permissions` (through the services and the query module), never here.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from accounts.authentication import HasSession, HasUserSession
from accounts.caller import Caller
from accounts.models import ApiUser
from classes.selectors import class_by_name
from config.api.errors import Forbidden, NotFound, Unprocessable
from config.api.indexes import parse_int
from config.api.params import all_params
from config.api.schema import api_doc
from config.api.views import ApiView
from records import services
from records.models import Record
from records.permissions import can, explanation_json, record_permissions_json
from records.query import search
from records.query.rows import record_by_id
from records.serializers import record_json

MAX_IDS = 100
TAGS = ["custom objects"]
PERMISSIONS_EXAMPLE = {
    "read": {"access": "open"},
    "update": {"access": "open_for_users_ids", "users_ids": ["51941", "51943"]},
    "delete": {"access": "open_for_groups", "users_groups": ["officers"]},
}
RECORD_EXAMPLE = {
    "_id": "5c09798aca8bf468ab8d2936",
    "_parent_id": None,
    "age": 41,
    "full_name": "Nadine Collier",
    "created_at": 1544124810,
    "updated_at": 1544124810,
    "user_id": 47592,
    "permissions": PERMISSIONS_EXAMPLE,
}
LIST_ITEM = {k: v for k, v in RECORD_EXAMPLE.items() if k != "permissions"}


def is_form(request) -> bool:
    """Form and multipart bodies spell null as the string "null"; JSON has its own null."""
    return "json" not in (request.content_type or "")


def params_without_token(request) -> dict:
    return {k: v for k, v in all_params(request).items() if k != "token"}


# The answers of the busiest requests, shared by the views below and by the lean path
# (records/lane.py), which calls them without DRF.


def list_answer(caller, klass, params: dict) -> dict:
    """GET /data/{class}: a page of records, a count, or aggregates."""
    result = search(klass, params, caller, listed=True)  # shown without `permissions`
    body = {"class_name": klass.name}
    if result.count is not None:
        return {**body, "items_count": result.count}
    body.update(skip=result.skip, limit=result.limit)
    if result.groups is not None:
        return {**body, "items": result.groups}
    query = result.query
    items = [
        record_json(r, klass, permissions=False, include=query.include, exclude=query.exclude)
        for r in result.records
    ]
    return {**body, "items": items}


def create_answer(caller, klass, data, *, form: bool) -> dict:
    """POST /data/{class}: the new record."""
    record = services.record_create(caller=caller, klass=klass, data=data, form=form)
    return record_json(record, klass)


_READ = object()


def one_record(caller, klass, record_id: str, action: str | None = None, found=_READ) -> Record:
    """The record of the URL: 404 if missing, 403 if `action` is not permitted. `found`:
    record_by_id's answer when it was read already (config.lane.Fold)."""
    if found is _READ:
        found = record_by_id(klass, record_id)
    if found is None:
        raise NotFound("Record not found")
    record = found[0]
    if action and not can(caller, record, action, klass):
        raise Forbidden()
    return record


def get_answer(caller, klass, record_id: str, found=_READ) -> dict:
    """GET /data/{class}/{id}: one record the caller may read."""
    record = one_record(caller, klass, record_id, "read", found)
    return {"class_name": klass.name, "items": [record_json(record, klass)]}


def update_answer(caller, klass, record_id: str, changes, *, form: bool) -> dict:
    """PUT /data/{class}/{id}: the record as changed."""
    record = services.record_update(
        caller=caller, klass=klass, record_id=record_id, changes=changes, form=form
    )
    return record_json(record, klass)


class ClassView(ApiView):
    """Resolves the class of the URL (404 if the caller's application has none by that name);
    writes need a user session."""

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [HasSession()]
        return [HasUserSession()]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.klass = class_by_name(
            application=request.user.application,
            name=kwargs["class_name"],
            schema_version=request.user.schema_version,
        )

    def json(self, record, **kwargs) -> dict:
        return record_json(record, self.klass, **kwargs)


class RecordsView(ClassView):
    """GET: list (filters, sort, skip/limit, count, output, near, calc); POST: create."""

    replica_reads_ok = True  # with REPLICA_FOR_API_READS (config/replica.py)

    @extend_schema(operation_id="data_list")
    @api_doc(
        "List, count or aggregate records",
        tags=TAGS,
        description=(
            "Filters `field=value` and `field[op]=value` (gt gte lt lte ne in nin all or ctn "
            "near), `sort_asc`/`sort_desc`, `skip`, `limit` (max 100, -1 = last record), "
            "`count=1`, `output[include]`/`output[exclude]`, `field[calc]=avg` with "
            "`group_by`. See docs/custom-objects.md."
        ),
        responses={200: {"class_name": "profile", "skip": 0, "limit": 100, "items": [LIST_ITEM]}},
        errors=(404, 422),
    )
    def get(self, request, class_name):
        return Response(list_answer(request.user, self.klass, params_without_token(request)))

    @api_doc(
        "Create a record",
        tags=TAGS,
        request={
            "full_name": "Nadine Collier",
            "age": "41",
            "permissions": {"read": {"access": "owner"}},
        },
        responses={201: RECORD_EXAMPLE},
        errors=(403, 404, 422),
    )
    def post(self, request, class_name):
        data = params_without_token(request)
        return Response(
            create_answer(request.user, self.klass, data, form=is_form(request)), status=201
        )


def batch_param(request):
    """`{"record": {"1": {...}}}`, `{"record": [...]}`, or a bare JSON array of records."""
    if isinstance(request.data, list):
        return request.data
    return all_params(request).get("record")


class MultiView(ClassView):
    """POST: create up to 100 records; PUT: update up to 100 records by id."""

    @api_doc(
        "Create up to 100 records, all or nothing",
        tags=TAGS,
        request={"record": {"1": {"age": "11"}, "2": {"age": "55"}}},
        responses={201: {"class_name": "profile", "items": [RECORD_EXAMPLE]}},
        errors=(403, 404, 422),
    )
    def post(self, request, class_name):
        records = services.records_create_multi(
            caller=request.user,
            klass=self.klass,
            items=batch_param(request),
            form=is_form(request),
        )
        items = [self.json(r) for r in records]
        return Response({"class_name": self.klass.name, "items": items}, status=201)

    @api_doc(
        "Update up to 100 records by id",
        tags=TAGS,
        request={"record": {"1": {"id": "5c0d4f95ca8bf4291e8d3c2d", "age": "50"}}},
        responses={
            200: {
                "class_name": "profile",
                "items": [RECORD_EXAMPLE],
                "not_found": {"ids": []},
                "wrong_permissions": {"ids": []},
            }
        },
        errors=(403, 404, 422),
    )
    def put(self, request, class_name):
        result = services.records_update_multi(
            caller=request.user,
            klass=self.klass,
            items=batch_param(request),
            form=is_form(request),
        )
        return Response(
            {
                "class_name": self.klass.name,
                "items": [self.json(r) for r in result.records],
                "not_found": {"ids": result.not_found},
                "wrong_permissions": {"ids": result.wrong_permissions},
            }
        )


class ByCriteriaView(ClassView):
    """PUT: update every matching record the caller may update; DELETE: delete them."""

    @api_doc(
        "Update every matching record the caller may update",
        tags=TAGS,
        request={"search_criteria": {"age": {"lt": 30}}, "country_of_birth": "Iran"},
        responses={
            200: {
                "class_name": "profile",
                "skip": 0,
                "limit": 100,
                "total_found": 1,
                "items": [RECORD_EXAMPLE],
            }
        },
        errors=(403, 404, 422),
    )
    def put(self, request, class_name):
        params = params_without_token(request)
        criteria = params.pop("search_criteria", None)
        if criteria is not None and not isinstance(criteria, dict):
            raise Unprocessable({"search_criteria": ["must be an object"]})
        total, records = services.records_update_by_criteria(
            caller=request.user,
            klass=self.klass,
            criteria=criteria,
            changes=params,
            form=is_form(request),
        )
        return Response(
            {
                "class_name": self.klass.name,
                "skip": 0,
                "limit": services.MAX_BATCH,
                "total_found": total,
                "items": [self.json(r) for r in records],
            }
        )

    @api_doc(
        "Delete every matching record the caller may delete (criteria as parameters)",
        tags=TAGS,
        responses={200: {"total_deleted": 2}},
        errors=(403, 404, 422),
    )
    def delete(self, request, class_name):
        params = params_without_token(request)
        criteria = params.get("search_criteria", params)
        if not isinstance(criteria, dict):
            raise Unprocessable({"search_criteria": ["must be an object"]})
        total = services.records_delete_by_criteria(
            caller=request.user, klass=self.klass, criteria=criteria
        )
        return Response({"total_deleted": total})


def split_ids(raw: str) -> list[str]:
    """`id1,id2` -> ids. Something that is not an ObjectId cannot exist: it is reported as
    not found, like any other missing id."""
    ids = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not ids:
        raise NotFound("Record not found")
    if len(ids) > MAX_IDS:
        raise Unprocessable({"ids": [f"at most {MAX_IDS} ids per request"]})
    return ids


class RecordView(ClassView):
    """/data/{class}/{id} or /{id1},{id2}: get, update (one id), delete."""

    replica_reads_ok = True  # with REPLICA_FOR_API_READS (config/replica.py)

    @extend_schema(operation_id="data_by_ids")
    @api_doc(
        "Records by ids, or one record's permissions with permissions=1",
        tags=TAGS,
        responses={200: {"class_name": "profile", "items": [RECORD_EXAMPLE]}},
        errors=(403, 404, 422),
    )
    def get(self, request, class_name, ids):
        ids = split_ids(ids)
        if len(ids) == 1:
            if str(all_params(request).get("permissions", "")).lower() in ("1", "true"):
                return self._permissions(request, one_record(request.user, self.klass, ids[0]))
            return Response(get_answer(request.user, self.klass, ids[0]))
        found = (
            Record.objects.for_class(self.klass).visible_to(request.user, "read").filter(pk__in=ids)
        )
        by_id = {r.pk: r for r in found}
        items = [self.json(by_id[i]) for i in ids if i in by_id]
        return Response({"class_name": self.klass.name, "items": items})

    def _permissions(self, request, record):
        caller = request.user
        if not (caller.is_admin or (caller.user_id and caller.user_id == record.user_id)):
            raise Forbidden("Only the record's owner can read its permissions")
        return Response({"permissions": record_permissions_json(record), "record_id": record.pk})

    @api_doc(
        "Update one record (fields, operators, permissions)",
        tags=TAGS,
        request={"job": "technical director", "inc": {"age": 1}, "push": {"tags": ["a"]}},
        responses={200: RECORD_EXAMPLE},
        errors=(403, 404, 422),
    )
    def put(self, request, class_name, ids):
        ids = split_ids(ids)
        if len(ids) > 1:
            raise Unprocessable({"ids": ["update one record by id, or several through /multi"]})
        changes = params_without_token(request)
        return Response(
            update_answer(request.user, self.klass, ids[0], changes, form=is_form(request))
        )

    @api_doc(
        "Delete one record (empty answer) or several (a report), with their children",
        tags=TAGS,
        responses={
            200: {
                "SuccessfullyDeleted": {"ids": ["5c097c45ca8bf468ab8d294e"]},
                "WrongPermissions": {"ids": []},
                "NotFound": {"ids": []},
            }
        },
        errors=(403, 404, 422),
    )
    def delete(self, request, class_name, ids):
        ids = split_ids(ids)
        if len(ids) == 1:
            services.record_delete(caller=request.user, klass=self.klass, record_id=ids[0])
            return Response(status=200)
        result = services.records_delete(caller=request.user, klass=self.klass, record_ids=ids)
        return Response(
            {
                "SuccessfullyDeleted": {"ids": result.deleted},
                "WrongPermissions": {"ids": result.wrong_permissions},
                "NotFound": {"ids": result.not_found},
            }
        )


WHY_EXAMPLE = {
    "record_id": "5c09798aca8bf468ab8d2936",
    "user_id": 47593,
    "session": "user",
    "user_tags": ["officers"],
    "actions": {
        "read": {
            "allowed": True,
            "source": "class",
            "reason": "class permission read = open_for_groups [officers]; user has tags "
            "[officers] → allowed",
            "access": "open_for_groups",
            "groups": ["officers"],
        },
        "update": {
            "allowed": False,
            "source": "record",
            "reason": "record permission update = owner; owner is 47592, user is 47593 → denied",
            "access": "owner",
        },
        "delete": {
            "allowed": False,
            "source": "record",
            "reason": "record permission delete = owner; owner is 47592, user is 47593 → denied",
            "access": "owner",
        },
    },
}


class RecordWhyView(ClassView):
    """/data/{class}/{id}/why: may a user (or an application session) read, update, delete
    this record, and which rule decided it. Answered by `records.permissions.decide`, the
    function every request goes through."""

    @extend_schema(operation_id="data_record_why")
    @api_doc(
        "Why a user may or may not read, update and delete a record (the record's owner only)",
        tags=TAGS,
        responses={200: WHY_EXAMPLE},
        errors=(403, 404, 422),
        description="Without parameters the answer is for the caller; `user_id` asks for "
        "another user of the application, `application_session=1` for a session without "
        "a user. Only the record's owner may ask (console administrators have the record "
        "page's panel).",
        parameters=[
            OpenApiParameter("user_id", int, description="a user of the application"),
            OpenApiParameter("application_session", bool, description="1: no user"),
        ],
    )
    def get(self, request, class_name, record_id):
        record = Record.objects.filter(object_class=self.klass, pk=record_id).first()
        if record is None:
            raise NotFound("Record not found")
        caller = request.user
        if not (caller.is_admin or (caller.user_id and caller.user_id == record.user_id)):
            raise Forbidden("Only the record's owner can ask why")
        subject = self._subject(caller, all_params(request))
        return Response(explanation_json(subject, record, self.klass))

    @staticmethod
    def _subject(caller, params) -> Caller:
        if str(params.get("application_session", "")).lower() in ("1", "true"):
            return Caller(application=caller.application)
        raw = params.get("user_id")
        if raw in (None, ""):
            return caller
        user_id = parse_int(str(raw))
        user = (
            ApiUser.objects.filter(application=caller.application, pk=user_id).first()
            if user_id is not None
            else None
        )
        if user is None:
            raise Unprocessable({"user_id": ["no user of this application has this id"]})
        return Caller.for_user(user)

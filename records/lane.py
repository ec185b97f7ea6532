"""The busiest record requests on the lean path (config/lane.py): get one record by id,
list or count, create, and update one record. Each calls the same answer function as its
DRF view (records/api.py); what is not plain (several ids, `permissions=1`, a form body,
parameters in a GET body) is declined here and answered by the view.
"""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

from classes.selectors import cached_class, class_by_name
from config import lane
from config.replica import replica_reads
from records import api
from records.query import rows

CLASS = r"/data/(?P<class_name>[^/]+)"
ONE = CLASS + r"/(?P<record_id>[0-9a-f]{24})"  # never multi, by_criteria, events, ...


def _allow(view_class) -> str:
    """The Allow header DRF sends for the view (`setup` adds HEAD where there is a GET)."""
    view = view_class()
    view.setup(None)
    return ", ".join(view.allowed_methods)


RECORDS = {"label": "data/<str:class_name>", "allow": _allow(api.RecordsView)}
RECORD = {"label": "data/<str:class_name>/<str:ids>", "allow": _allow(api.RecordView)}


def _class(caller, class_name: str):
    return class_by_name(
        application=caller.application, name=class_name, schema_version=caller.schema_version
    )


def _reads(answer, *args):
    """A read, on the read replica when REPLICA_FOR_API_READS says so (as the views)."""
    if not settings.REPLICA_FOR_API_READS:
        return answer(*args)
    with replica_reads():
        return answer(*args)


@lane.route("GET", CLASS, **RECORDS)
def list_records(request, caller, class_name):
    if request.body:
        raise lane.Decline  # parameters in a GET body: the view merges them
    klass = _class(caller, class_name)
    return 200, _reads(api.list_answer, caller, klass, request.query())


def _fold_record(request, groups, application_id):
    """The record of a get, read by the session statement itself (config.lane.Fold) when
    the class is in this process's cache: one statement for the whole request."""
    if settings.REPLICA_FOR_API_READS or request.body or request.query():
        return None  # the replica reads records, not sessions; the view takes parameters
    cached = cached_class(application_id, groups["class_name"])
    if cached is None:
        return None
    version, klass = cached
    return lane.Fold(
        rows.FOLD_COLUMNS, rows.FOLD_JOIN, [klass.pk, groups["record_id"]], application_id, version
    )


@lane.route("GET", ONE, fold=_fold_record, **RECORD)
def get_record(request, caller, class_name, record_id):
    if request.body or request.query():
        raise lane.Decline  # `permissions=1` and other parameters: the view
    klass = _class(caller, class_name)  # the Fold's class, when its row came (same version)
    if request.folded is not None:
        found = rows.found_from_fold(request.folded, DEFAULT_DB_ALIAS)  # the session's
        return 200, api.get_answer(caller, klass, record_id, found)
    return 200, _reads(api.get_answer, caller, klass, record_id)


@lane.route("POST", CLASS, user_session=True, guarded=True, **RECORDS)
def create_record(request, caller, class_name):
    data = {**request.query(), **request.json_object()}
    klass = _class(caller, class_name)
    return 201, api.create_answer(caller, klass, data, form=False)


@lane.route("PUT", ONE, user_session=True, guarded=True, **RECORD)
def update_record(request, caller, class_name, record_id):
    changes = {**request.query(), **request.json_object()}
    klass = _class(caller, class_name)
    return 200, api.update_answer(caller, klass, record_id, changes, form=False)

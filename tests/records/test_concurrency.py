"""Concurrent updates of one record never lose a change (API.md §5)."""

import threading

import pytest
from django.db import connection

from records.models import Record
from tests.conftest import Api, make_user, token_for

from .conftest import make_class

WORKERS = 50


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_incs_add_exactly_fifty(application):
    make_class(application)
    user = make_user(application, "counter")
    token = token_for(application, user)
    status, record = Api(token).post("/data/profile", {"age": 0, "tags": []})
    assert status == 201
    barrier = threading.Barrier(WORKERS)
    statuses = []

    def worker(n):
        try:
            barrier.wait()
            got, _ = Api(token).put(
                f"/data/profile/{record['_id']}",
                {"inc": {"age": 1, "score": 0.5}, "push": {"tags": n}},
            )
            statuses.append(got)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * WORKERS
    data = Record.objects.get(pk=record["_id"]).data
    assert data["age"] == WORKERS
    assert data["score"] == WORKERS * 0.5
    assert sorted(data["tags"]) == list(range(WORKERS))


@pytest.mark.django_db(transaction=True)
def test_parallel_incs_by_criteria_add_up(application):
    make_class(application)
    user = make_user(application, "counter")
    token = token_for(application, user)
    for _ in range(3):
        Api(token).post("/data/profile", {"age": 0, "job": "x"})
    barrier = threading.Barrier(10)

    def worker():
        try:
            barrier.wait()
            Api(token).put(
                "/data/profile/by_criteria", {"search_criteria": {"job": "x"}, "inc": {"age": 1}}
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.data["age"] for r in Record.objects.all()] == [10, 10, 10]

"""config.asgi.PooledThread: the thread a request's synchronous code runs on, handed work
from the event loop (`call`) and by asgiref (`submit`)."""

import asyncio
import threading

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async

from config.asgi import PooledThread
from tests.events.streams import run  # a loop of its own, beside Playwright's


def test_calls_run_in_order_on_one_thread_and_answer_or_raise():
    pooled = PooledThread()
    seen = []

    def work(n):
        seen.append((n, threading.get_ident()))
        if n == 2:
            raise ValueError("two")
        return n * 10

    async def scenario():
        first = await pooled.call(work, 1)
        with pytest.raises(ValueError, match="two"):
            await pooled.call(work, 2)
        third = await asyncio.gather(*(pooled.call(work, n) for n in (3, 4, 5)))
        return first, third

    assert run(scenario()) == (10, [30, 40, 50])
    assert [n for n, _ in seen] == [1, 2, 3, 4, 5]
    assert len({thread for _, thread in seen}) == 1
    assert seen[0][1] != threading.get_ident()


def test_asgiref_calls_of_the_same_request_go_to_the_same_thread():
    pooled = PooledThread()

    async def scenario():
        first = await pooled.call(threading.get_ident)
        async with ThreadSensitiveContext(executor=pooled):
            later = await sync_to_async(threading.get_ident)()
        keyword = await asyncio.wrap_future(pooled.submit(dict, a=1))
        return first, later, keyword

    first, later, keyword = run(scenario())
    assert first == later and keyword == {"a": 1}
    with pytest.raises(ZeroDivisionError):
        pooled.submit(lambda: 1 / 0).result(timeout=5)


def test_a_request_that_goes_away_leaves_the_thread_serving():
    pooled = PooledThread()
    release = threading.Event()

    errors = []

    async def scenario():
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: errors.append(context)
        )
        waiting = asyncio.ensure_future(pooled.call(release.wait, 5))
        await asyncio.sleep(0.05)
        waiting.cancel()  # the client went away while its call ran
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        return await pooled.call(lambda: "next")

    assert run(scenario()) == "next"
    assert errors == []  # the late answer was dropped, not set on the cancelled future


def test_a_call_that_ends_after_its_loop_closed_leaves_the_thread_serving():
    pooled = PooledThread()
    release = threading.Event()

    async def abandon():
        asyncio.ensure_future(pooled.call(release.wait, 5))
        await asyncio.sleep(0.05)

    run(abandon())  # the loop closes with the call still running
    release.set()
    assert pooled.submit(lambda: "still here").result(timeout=5) == "still here"

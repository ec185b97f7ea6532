"""The webhook worker: procrastinate's worker plus the dispatcher that feeds it.

`manage.py events_worker` runs both in one process: the dispatcher LISTENs for journal
notifications (and polls every second) and turns new journal rows into deliveries and jobs
(`webhooks.dispatch_pending`); procrastinate's worker runs those jobs, retries them, and
runs the periodic pruning of the journal. Several workers may run: dispatchers take turns
on a row lock, and procrastinate hands each job to one worker.
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import psycopg
from procrastinate.contrib.django import app

from events.hub import close_connection, listen_params
from events.models import CHANNEL
from events.tasks import QUEUE

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0


async def dispatch_forever(stop: asyncio.Event) -> None:
    from events.webhooks import dispatch_pending

    executor = ThreadPoolExecutor(1, thread_name_prefix="events-dispatch")
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    listener = await psycopg.AsyncConnection.connect(autocommit=True, **listen_params())
    await listener.execute(f"LISTEN {CHANNEL}")

    async def listen():
        async for _ in listener.notifies():
            wake.set()

    listening = asyncio.create_task(listen())
    try:
        while not stop.is_set():
            wake.clear()
            try:
                made = await loop.run_in_executor(executor, dispatch_pending)
            except Exception:  # a database hiccup must not stop deliveries for good
                logger.exception("webhooks: dispatching failed")
                await loop.run_in_executor(executor, close_connection)
                made = []
            if made:
                continue  # there may be more right away
            try:
                await asyncio.wait_for(wake.wait(), POLL_SECONDS)
            except TimeoutError:
                pass
    finally:
        listening.cancel()
        await listener.close()
        await loop.run_in_executor(executor, close_connection)
        executor.shutdown()


async def run(*, concurrency: int = 4, polling: float = 5.0) -> None:
    """Until cancelled (SIGINT/SIGTERM end procrastinate's worker, then the dispatcher)."""
    worker_app = app.with_connector(app.connector.get_worker_connector())
    stop = asyncio.Event()
    async with worker_app.open_async():
        dispatcher = asyncio.create_task(dispatch_forever(stop))
        try:
            await worker_app.run_worker_async(
                queues=[QUEUE],
                concurrency=concurrency,
                fetch_job_polling_interval=polling,
                install_signal_handlers=True,
                delete_jobs="successful",
            )
        finally:
            stop.set()
            await dispatcher

"""`manage.py events_worker`: delivers webhooks and prunes the journal (`make run` starts it)."""

import asyncio

from django.core.management.base import BaseCommand

from events.worker import run


class Command(BaseCommand):
    help = "Run the webhook worker: dispatch journal events, deliver them, prune the journal."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=4, help="deliveries at once")
        parser.add_argument(
            "--polling", type=float, default=5.0, help="seconds between looks for due retries"
        )

    def handle(self, *args, concurrency, polling, **options):
        asyncio.run(run(concurrency=concurrency, polling=polling))

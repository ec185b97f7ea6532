"""The worker's jobs (procrastinate, on PostgreSQL): webhook deliveries and journal pruning.

`deliver_webhook` runs one attempt; a failed attempt raises, and `Backoff` schedules the
next one: waits double from WEBHOOK_RETRY_BASE_SECONDS up to an hour, for as long as the
attempts fit in WEBHOOK_RETRY_SECONDS (25 hours by default), after which the delivery is
marked failed (the console can still resend it).
"""

from django.conf import settings
from procrastinate import RetryDecision
from procrastinate.contrib.django import app
from procrastinate.retry import BaseRetryStrategy

from events.models import Delivery

QUEUE = "webhooks"
MAX_WAIT_SECONDS = 3600


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx in time; the job is retried."""


def wait_before(attempt: int) -> float:
    """Seconds between attempt `attempt` (0 = the first) and the next one."""
    return min(settings.WEBHOOK_RETRY_BASE_SECONDS * 2**attempt, MAX_WAIT_SECONDS)


def retry_in(attempt: int) -> float | None:
    """When to try again after failed attempt `attempt`; None once the window is over."""
    elapsed = sum(wait_before(i) for i in range(attempt))
    wait = wait_before(attempt)
    return wait if elapsed + wait <= settings.WEBHOOK_RETRY_SECONDS else None


class Backoff(BaseRetryStrategy):
    def get_retry_decision(self, *, exception, job):
        if not isinstance(exception, DeliveryFailed):
            return None
        wait = retry_in(job.attempts)
        return None if wait is None else RetryDecision(retry_in={"seconds": wait})


@app.task(queue=QUEUE, retry=Backoff(), pass_context=True, name="deliver_webhook")
def deliver_webhook(context, delivery_id: int, resend: bool = False) -> None:
    from events.webhooks import attempt

    delivery = Delivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None:  # its webhook was deleted: nothing more to send
        return
    if delivery.status == Delivery.DELIVERED and not resend:
        return
    if not delivery.webhook.enabled:
        return
    if attempt(delivery):
        return
    if retry_in(context.job.attempts) is None:
        Delivery.objects.filter(pk=delivery_id).update(status=Delivery.FAILED)
        return
    raise DeliveryFailed(f"delivery {delivery_id} not accepted")


@app.periodic(cron="*/10 * * * *", periodic_id="prune_journal")
@app.task(queue=QUEUE, name="prune_journal")
def prune_journal(timestamp: int) -> int:
    from events.journal import prune

    return prune(now=timestamp)

"""The webhook worker as `make run` starts it: a receiver that was down gets every event."""

import json
import time

from events.models import Delivery, Webhook
from tests.events.processes import Worker
from tests.events.receiver import Receiver


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_receiver_down_then_back_gets_every_event_once_per_id(application, create):
    env = {"WEBHOOKS_ALLOW_PRIVATE": "1", "WEBHOOK_RETRY_BASE_SECONDS": "1"}
    with Receiver(status=503) as receiver, Worker(**env) as worker:
        Webhook.objects.create(application=application, url=receiver.url)
        made = [create(name=str(i)).id for i in range(10)]
        assert wait_until(lambda: len(receiver.received) >= 10, 20), worker.process.stderr
        receiver.status = 200  # back up
        assert wait_until(lambda: len({b["id"] for b in receiver.delivered()}) >= 10, 30)
    delivered = receiver.delivered()
    assert sorted(b["record"]["_id"] for b in delivered) == sorted(made)
    assert len({b["id"] for b in delivered}) == 10
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.DELIVERED}
    ids_per_record = {}
    for _, body, _ in receiver.received:  # retries of one event carry the same id
        event = json.loads(body)
        ids_per_record.setdefault(event["record"]["_id"], set()).add(event["id"])
    assert all(len(ids) == 1 for ids in ids_per_record.values())

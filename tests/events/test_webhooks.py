"""Webhooks: what is delivered, signed how, to which targets, retried how, and stopped."""

import json
import types

import pytest
from django.urls import reverse

from accounts.caller import Caller
from events import tasks, webhooks
from events.models import Attempt, Delivery, Webhook
from records import services
from tests.events.receiver import Receiver


@pytest.fixture
def hook(application, thing):
    def make(url="https://example.com/hook", **options):
        return Webhook.objects.create(application=application, url=url, **options)

    return make


def test_each_event_becomes_one_delivery_with_the_contract_body(hook, thing, owner, create):
    made = hook()
    record = create(name="a", age=1)
    caller = Caller.for_user(owner)
    services.record_update(caller=caller, klass=thing, record_id=record.id, changes={"age": 2})
    services.record_delete(caller=caller, klass=thing, record_id=record.id)
    assert len(webhooks.dispatch_pending()) == 3
    assert webhooks.dispatch_pending() == []  # exactly once
    bodies = [json.loads(d.body) for d in Delivery.objects.order_by("event_id")]
    assert [b["type"] for b in bodies] == ["record.created", "record.updated", "record.deleted"]
    first = bodies[0]
    assert set(first) == {"id", "type", "application_id", "class_name", "occurred_at", "record"}
    assert first["application_id"] == thing.application_id and first["class_name"] == "thing"
    assert first["record"]["_id"] == record.id and first["record"]["age"] == 1
    assert len({b["id"] for b in bodies}) == 3
    assert all(d.webhook_id == made.pk for d in Delivery.objects.all())


def test_classes_and_types_filter_and_disabled_hooks_get_nothing(hook, thing, create):
    from tests.records.conftest import make_class

    hook(classes=["other"])
    only_updates = hook(event_types=["update"])
    hook(enabled=False)
    other = make_class(thing.application, name="other", fields=[("name", "string")])
    create(name="a")
    create(klass=other, name="b")
    webhooks.dispatch_pending()
    kinds = sorted((d.webhook.classes, d.event_type) for d in Delivery.objects.all())
    assert kinds == [(["other"], "create")]
    assert not Delivery.objects.filter(webhook=only_updates).exists()


def test_events_before_a_hook_existed_are_not_sent(hook, create):
    create(name="before")
    webhooks.dispatch_pending()  # nobody to deliver to: skipped
    hook()
    assert webhooks.dispatch_pending() == []
    after = create(name="after")
    [delivery_id] = webhooks.dispatch_pending()
    assert json.loads(Delivery.objects.get(pk=delivery_id).body)["record"]["_id"] == after.id


def test_signature_verifies_with_the_secret_only():
    header = webhooks.signature("s3cret", '{"a":1}', 1700000000)
    assert header.startswith("t=1700000000,v1=")
    assert webhooks.verify("s3cret", '{"a":1}', header, now=1700000000)
    assert not webhooks.verify("other", '{"a":1}', header, now=1700000000)
    assert not webhooks.verify("s3cret", '{"a":2}', header, now=1700000000)
    assert not webhooks.verify("s3cret", '{"a":1}', header, now=1700009999)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost:8000/x",
        "http://10.1.2.3/x",
        "http://192.168.0.1/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://0.0.0.0/x",
        "ftp://example.com/x",
    ],
)
def test_private_targets_are_refused_unless_allowed(url, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(webhooks.TargetRefused):
        webhooks.check_target(url)


def test_a_refused_target_is_logged_as_a_failed_attempt(hook, create, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    hook(url="http://127.0.0.1:9/hook")
    create(name="a")
    [delivery_id] = webhooks.dispatch_pending()
    delivery = Delivery.objects.select_related("webhook").get(pk=delivery_id)
    assert webhooks.attempt(delivery) is False
    [logged] = Attempt.objects.all()
    assert logged.status_code is None and "private" in logged.error


def context(attempts=0):
    return types.SimpleNamespace(job=types.SimpleNamespace(attempts=attempts))


def test_delivery_is_signed_and_logged(hook, create):
    with Receiver() as receiver:
        made = hook(url=receiver.url)
        create(name="a")
        [delivery_id] = webhooks.dispatch_pending()
        tasks.deliver_webhook(context(), delivery_id=delivery_id)
    [(headers, body, _)] = receiver.received
    assert headers["Content-Type"] == "application/json"
    assert webhooks.verify(made.secret, body, headers["X-Cube-Signature"])
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == Delivery.DELIVERED and delivery.attempts == 1
    assert Attempt.objects.get().status_code == 200


def test_a_failed_attempt_is_retried_with_growing_waits_for_a_day(hook, create, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    with Receiver(status=503) as receiver:
        hook(url=receiver.url)
        create(name="a")
        [delivery_id] = webhooks.dispatch_pending()
        with pytest.raises(tasks.DeliveryFailed):
            tasks.deliver_webhook(context(), delivery_id=delivery_id)
    assert Attempt.objects.get().status_code == 503
    waits = []
    while (wait := tasks.retry_in(len(waits))) is not None:
        waits.append(wait)
    assert waits[:3] == [10, 20, 40] and max(waits) == 3600
    assert sum(waits) >= 24 * 3600


def test_the_last_failed_attempt_marks_the_delivery_failed(hook, create, settings):
    settings.WEBHOOK_RETRY_SECONDS = 30
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    with Receiver(status=500) as receiver:
        hook(url=receiver.url)
        create(name="a")
        [delivery_id] = webhooks.dispatch_pending()
        tasks.deliver_webhook(context(attempts=5), delivery_id=delivery_id)  # no raise
    assert Delivery.objects.get(pk=delivery_id).status == Delivery.FAILED


def test_deleting_the_webhook_stops_its_deliveries(hook, create):
    with Receiver() as receiver:
        made = hook(url=receiver.url)
        create(name="a")
        [delivery_id] = webhooks.dispatch_pending()
        made.delete()
        tasks.deliver_webhook(context(), delivery_id=delivery_id)
    assert receiver.received == []
    assert not Delivery.objects.exists()


def test_resend_from_the_console_queues_a_new_job(hook, create, admin_client):
    from procrastinate.contrib.django.models import ProcrastinateJob

    hook()
    create(name="a")
    [delivery_id] = webhooks.dispatch_pending()
    Delivery.objects.filter(pk=delivery_id).update(status=Delivery.DELIVERED)
    before = ProcrastinateJob.objects.count()
    response = admin_client.post(
        reverse("admin:events_delivery_changelist"),
        {"action": "resend_deliveries", "_selected_action": [delivery_id]},
    )
    assert response.status_code == 302
    assert ProcrastinateJob.objects.count() == before + 1
    job = ProcrastinateJob.objects.order_by("-id").first()
    assert job.args == {"delivery_id": delivery_id, "resend": True}
    assert Delivery.objects.get(pk=delivery_id).status == Delivery.PENDING


def test_the_console_refuses_a_private_target(admin_client, application, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = admin_client.post(
        reverse("admin:events_webhook_add"),
        {"application": application.pk, "url": "http://127.0.0.1/x", "secret": "s"},
    )
    assert response.status_code == 200
    assert b"private" in response.content
    assert not Webhook.objects.exists()

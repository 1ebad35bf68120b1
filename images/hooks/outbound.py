"""Telling receivers of events: `send_event(name, payload)` stores one delivery
per receiver that asked for the event and queues a Celery task with its id
(images.tasks.deliver_webhook), which makes one attempt with `deliver`.

A body is JSON, generic or Slack-compatible by the receiver's format
(images.hooks.payloads), signed with the receiver's secret in X-Dockyard-Signature
(images.hooks.signatures). An answer of 5xx or 429, no answer in
DOCKYARD_WEBHOOK_TIMEOUT seconds or no connection is worth another attempt
(Celery's retry, with exponential backoff); any other answer is final. Each
attempt's status is kept on the delivery, the log admins read, and audited."""

import logging

import certifi
import urllib3
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError

from images.accounts import audit
from images.hooks import destinations, payloads, signatures
from images.hooks.forms import EVENTS
from images.models import Job, WebhookDelivery, WebhookReceiver

log = logging.getLogger(__name__)

USER_AGENT = "Dockyard-Webhook/1"
DELIVERY_TASK = "images.tasks.deliver_webhook"
TEST_EVENT = "ping"  # sent only by send_test, to the one receiver asked


class DeliveryFailed(Exception):
    """An attempt that is worth repeating failed (5xx, 429, a timeout, no connection)."""


def send_event(name, payload):
    """Queue `name` (one of forms.EVENTS) with `payload` (JSON-able) for every enabled
    receiver that asked for it; return the deliveries. Sent once the caller's transaction commits."""
    if name not in EVENTS:
        raise ValueError(f"{name!r} is not an event Dockyard sends: {', '.join(EVENTS)}.")
    receivers = [receiver for receiver in WebhookReceiver.objects.filter(enabled=True) if name in receiver.events]
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(receiver=receiver, event=name, payload=payload) for receiver in receivers])
    for delivery in deliveries:
        transaction.on_commit(lambda pk=delivery.pk: _dispatch(pk))
    return deliveries


def send_base_event(sender, event, payload, **kwargs):
    """images.bases.events' `base_event` receiver (connected in ImagesConfig.ready): base
    updates and rebuild batches go to the receivers that asked for them."""
    if event in EVENTS:
        send_event(event, payload)


def send_test(receiver, user):
    """A `ping` to one receiver, whatever events it asked for, to see that it is reached and checks the
    signature; audited. Its answer is in the delivery log."""
    delivery = WebhookDelivery.objects.create(receiver=receiver, event=TEST_EVENT, payload={
        "message": f"A test delivery from Dockyard, sent by {user.get_username()}."})
    audit.record(user, "webhook-test", f"webhook {receiver.pk} {receiver.name}", detail=f"delivery {delivery.pk}")
    transaction.on_commit(lambda: _dispatch(delivery.pk))
    return delivery


def _dispatch(delivery_id):
    try:
        # By name: images.tasks, which holds the task, imports this module.
        current_app.send_task(DELIVERY_TASK, (delivery_id,), queue=settings.DOCKYARD_QUEUE)
    except OperationalError:
        log.warning("Webhook delivery %s could not be queued: Redis does not answer.", delivery_id)
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            state=WebhookDelivery.State.FAILED, last_error="Not sent: the queue (Redis) did not answer.")


def job_ended(job):
    """job.succeeded or job.failed, for a job that ended so (a cancel or an interruption is neither)."""
    if job.state not in (Job.State.SUCCEEDED, Job.State.FAILED):
        return []
    return send_event(f"job.{job.state}", {
        "job": {"id": job.pk, "engine": job.engine, "kind": job.kind, "state": job.state, "target": job.target,
                "image_id": job.image_id or None, "error": job.error,
                "queued_at": job.queued_at.isoformat(),
                "finished_at": job.finished_at.isoformat() if job.finished_at else None,
                "path": job.get_absolute_url()}})


def deliver(delivery_id, final):
    """One attempt at a delivery; `final` when no retry follows it. Raise DeliveryFailed when
    another attempt should follow."""
    delivery = WebhookDelivery.objects.select_related("receiver").filter(
        pk=delivery_id, state=WebhookDelivery.State.PENDING).first()
    if delivery is None:
        return  # delivered already (a message delivered twice), or its receiver deleted
    receiver = delivery.receiver
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
    try:
        status = _post(receiver, delivery)
    except destinations.DestinationRefused as exc:
        return _record(delivery, None, str(exc), WebhookDelivery.State.FAILED)
    except urllib3.exceptions.HTTPError as exc:
        error = f"No answer: {type(exc).__name__}"
        _record(delivery, None, error, WebhookDelivery.State.FAILED if final else WebhookDelivery.State.PENDING)
        if not final:
            raise DeliveryFailed(error) from None
        return
    if 200 <= status < 300:
        return _record(delivery, status, "", WebhookDelivery.State.DELIVERED)
    again = status >= 500 or status == 429
    error = f"The receiver answered {status}."
    _record(delivery, status, error,
            WebhookDelivery.State.PENDING if again and not final else WebhookDelivery.State.FAILED)
    if again and not final:
        raise DeliveryFailed(error)


def _post(receiver, delivery):
    """POST the delivery to the address checked now (not to what the name resolves to a moment later);
    return the status. Redirects are not followed: they could lead anywhere."""
    scheme, host, port, address = destinations.check_url(receiver.url)
    body = payloads.body_of(delivery)
    timeout = urllib3.Timeout(connect=settings.DOCKYARD_WEBHOOK_TIMEOUT, read=settings.DOCKYARD_WEBHOOK_TIMEOUT)
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(address, port, timeout=timeout, retries=False, cert_reqs="CERT_REQUIRED",
                                           ca_certs=certifi.where(), server_hostname=host, assert_hostname=host)
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    split = urllib3.util.parse_url(receiver.url)
    path = (split.path or "/") + (f"?{split.query}" if split.query else "")
    default_port = 443 if scheme == "https" else 80
    headers = {
        "Host": host if port == default_port else f"{host}:{port}",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Dockyard-Event": delivery.event,
        "X-Dockyard-Delivery": str(delivery.pk),
        signatures.SIGNATURE_HEADER: signatures.dockyard_signature(receiver.secret(), body),
    }
    try:
        response = pool.urlopen("POST", path, body=body, headers=headers, redirect=False, preload_content=False,
                                assert_same_host=False)
        response.drain_conn()
        return response.status
    finally:
        pool.close()


def _record(delivery, status, error, state):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        last_status=status, last_error=error[:500], state=state,
        delivered_at=timezone.now() if state == WebhookDelivery.State.DELIVERED else None)
    # Each attempt's outcome, by the receiver's id and name: never its URL (a chat service's path is a
    # token of its own), its secret or the body.
    answer = f"answered {status}" if status is not None else error
    then = {WebhookDelivery.State.DELIVERED: "delivered", WebhookDelivery.State.PENDING: "to be tried again",
            WebhookDelivery.State.FAILED: "failed"}[state]
    with audit.acting_by_itself():
        audit.record(None, "webhook-delivery", f"webhook {delivery.receiver_id} {delivery.receiver.name}",
                     audit.OK if state == WebhookDelivery.State.DELIVERED else audit.FAILED,
                     detail=f"delivery {delivery.pk} of {delivery.event}: {answer}; {then}"[:2000])

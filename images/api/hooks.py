"""Webhooks: a repository's pushes in (/api/hooks/git/<id>, signed, no login),
and the hook sources, receivers and delivery log admins keep. A secret is
answered once, when it is made."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from images.api.auth import allowed, signed
from images.api.errors import answer, form_errors
from images.api.fields import FormOrJson
from images.api.schemas import Error, StrList, errors
from images.hooks import inbound, outbound, receivers, sources
from images.hooks.forms import EVENTS, HookSourceForm, WebhookReceiverForm
from images.models import HookReceipt, HookSource, WebhookDelivery, WebhookReceiver

router = Router(tags=["hooks"])
_SECRET = Field(description="Shown only in this answer: give it to the other side now. Stored encrypted.")
RECENT = 100  # receipts and deliveries a list answers, newest first


# In ----------------------------------------------------------------------------------

class Received(Schema):
    message: str = Field(description="What was done, or why nothing was.")
    job: int | None = Field(description="The rebuild started, if one was.")


@router.post("/hooks/git/{int:pk}", response={200: Received, 201: Received, 400: Error, 401: Error, 403: Error,
                                               404: Error, 409: Error, 415: Error, 429: Error}, auth=signed())
def hook_receive(request, pk: int):
    """Receive a GitHub or GitLab push.

    GitHub signs the body with the hook's secret (`X-Hub-Signature-256`), GitLab sends the secret as
    `X-Gitlab-Token`; the body is the push event as JSON. A push to the hook's branch of its repository
    rebuilds its recipe: 201 with the job. An authentic delivery that builds nothing (a ping, another
    event, branch or repository): 200 saying why. A missing or wrong signature: 401; no delivery id
    (`X-GitHub-Delivery`, `X-Gitlab-Event-UUID`): 400; a delivery id received before: 409. Nothing is
    started on any refusal.
    """
    try:
        result = inbound.receive(pk, request.headers, request.body, request.META.get("CONTENT_TYPE", ""))
    except inbound.Refused as exc:
        return answer(exc.status, str(exc))
    body = {"message": result.message, "job": result.job.pk if result.job else None}
    return Status(201, body) if result.job else body


# Hook sources -----------------------------------------------------------------------

class SourceFields(Schema):
    name: str
    provider: str = Field(description="github or gitlab")
    repository: str = Field(description="owner/name (GitLab: group/subgroup/name).")
    branch: str = Field(description="The branch whose pushes rebuild, e.g. main.")
    recipe: int = Field(description="The id of the build job whose recipe a push builds again.")
    run_as: str = Field("", description="The user name the rebuild runs as; yours by default.")
    enabled: bool = True


class SourceOut(Schema):
    id: int
    name: str
    provider: str
    repository: str
    branch: str
    recipe: int
    run_as: str
    enabled: bool
    url: str = Field(description="Where the provider sends pushes.")
    created_at: datetime

    @staticmethod
    def resolve_recipe(source):
        return source.recipe_id

    @staticmethod
    def resolve_run_as(source):
        return source.run_as.get_username()

    @staticmethod
    def resolve_url(source, context):
        return context["request"].build_absolute_uri(f"/api/hooks/git/{source.pk}")


class SourceMade(SourceOut):
    secret: str = _SECRET

    @staticmethod
    def resolve_secret(source):
        return source.secret_shown


class NewSecret(Schema):
    secret: str = _SECRET


class ReceiptOut(Schema):
    delivery_id: str
    event: str
    ref: str
    commit: str
    outcome: str
    job: int | None
    received_at: datetime

    @staticmethod
    def resolve_job(receipt):
        return receipt.job_id


def _source_form(fields, instance=None):
    data = fields.dict()
    if not data.get("run_as"):
        data["run_as"] = instance.run_as.get_username() if instance else None
    return HookSourceForm(data, instance=instance)


@router.get("/hooks/sources", response={200: list[SourceOut], **errors()}, auth=allowed("manage_hooks"))
def hook_source_list(request):
    """The hook sources: which repository's pushes rebuild what."""
    return HookSource.objects.select_related("run_as")


@router.post("/hooks/sources", response={201: SourceMade, **errors(400)}, auth=allowed("manage_hooks"))
def hook_source_add(request, fields: FormOrJson[SourceFields]):
    """Add a hook source.

    The answer holds the URL to give GitHub or GitLab and the secret, which is never answered again.
    """
    form = _source_form(fields)
    if not form.is_valid():
        return form_errors("The hook was not saved.", form)
    source, secret = sources.add_source(form, request.user)
    source.secret_shown = secret
    return Status(201, source)


@router.put("/hooks/sources/{int:pk}", response={200: SourceOut, **errors(400, 404)}, auth=allowed("manage_hooks"))
def hook_source_change(request, pk: int, fields: FormOrJson[SourceFields]):
    """Change a hook source (its secret stays)."""
    form = _source_form(fields, get_object_or_404(HookSource, pk=pk))
    if not form.is_valid():
        return form_errors("The hook was not saved.", form)
    return sources.change_source(form, request.user)


@router.post("/hooks/sources/{int:pk}/secret", response={200: NewSecret, **errors(404)},
             auth=allowed("manage_hooks"))
def hook_source_secret(request, pk: int):
    """Give a hook source a new secret.

    The old one stops working at once; the new one is answered only now.
    """
    return {"secret": sources.new_secret(get_object_or_404(HookSource, pk=pk), request.user)}


@router.delete("/hooks/sources/{int:pk}", response={204: None, **errors(404)}, auth=allowed("manage_hooks"))
def hook_source_delete(request, pk: int):
    """Delete a hook source."""
    sources.delete_source(get_object_or_404(HookSource.objects.select_related("run_as"), pk=pk), request.user)
    return Status(204, None)


@router.get("/hooks/sources/{int:pk}/receipts", response={200: list[ReceiptOut], **errors(404)},
            auth=allowed("manage_hooks"))
def hook_source_receipts(request, pk: int):
    """The deliveries a hook source accepted, newest first.

    Each with what it did: the job started, or why nothing was. Refused deliveries are in the audit log.
    """
    return HookReceipt.objects.filter(source=get_object_or_404(HookSource, pk=pk))[:RECENT]


# Receivers ------------------------------------------------------------------------------

class ReceiverFields(Schema):
    name: str
    url: str = Field(description="Where events go: its host must be in DOCKYARD_WEBHOOK_HOSTS.")
    events: StrList = Field(description=f"Any of {', '.join(EVENTS)}.")
    format: str = Field("generic", description="generic (the event and its data as JSON) or slack (a "
                                               "Slack-compatible message: text and blocks). Both are signed.")
    enabled: bool = True


class ReceiverOut(Schema):
    id: int
    name: str
    url: str
    format: str
    events: list[str]
    enabled: bool
    created_at: datetime


class ReceiverMade(ReceiverOut):
    secret: str = _SECRET

    @staticmethod
    def resolve_secret(receiver):
        return receiver.secret_shown


class DeliveryOut(Schema):
    id: int
    receiver: int
    event: str
    state: str = Field(description="pending, delivered or failed")
    attempts: int
    last_status: int | None = Field(description="The receiver's HTTP status at the last attempt.")
    last_error: str
    created_at: datetime
    delivered_at: datetime | None

    @staticmethod
    def resolve_receiver(delivery):
        return delivery.receiver_id


@router.get("/hooks/receivers", response={200: list[ReceiverOut], **errors()}, auth=allowed("manage_hooks"))
def webhook_receiver_list(request):
    """The webhook receivers: which URLs are told of which events."""
    return WebhookReceiver.objects.all()


@router.post("/hooks/receivers", response={201: ReceiverMade, **errors(400)}, auth=allowed("manage_hooks"))
def webhook_receiver_add(request, fields: FormOrJson[ReceiverFields]):
    """Add a webhook receiver.

    Each body it is sent is signed with the secret in this answer (never answered again):
    `X-Dockyard-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
    """
    form = WebhookReceiverForm(fields.dict())
    if not form.is_valid():
        return form_errors("The receiver was not saved.", form)
    receiver, secret = receivers.add_receiver(form, request.user)
    receiver.secret_shown = secret
    return Status(201, receiver)


@router.put("/hooks/receivers/{int:pk}", response={200: ReceiverOut, **errors(400, 404)},
            auth=allowed("manage_hooks"))
def webhook_receiver_change(request, pk: int, fields: FormOrJson[ReceiverFields]):
    """Change a webhook receiver (its secret stays)."""
    form = WebhookReceiverForm(fields.dict(), instance=get_object_or_404(WebhookReceiver, pk=pk))
    if not form.is_valid():
        return form_errors("The receiver was not saved.", form)
    return receivers.change_receiver(form, request.user)


@router.delete("/hooks/receivers/{int:pk}", response={204: None, **errors(404)}, auth=allowed("manage_hooks"))
def webhook_receiver_delete(request, pk: int):
    """Delete a webhook receiver, and its deliveries' log."""
    receivers.delete_receiver(get_object_or_404(WebhookReceiver, pk=pk), request.user)
    return Status(204, None)


@router.post("/hooks/receivers/{int:pk}/test", response={202: DeliveryOut, **errors(404)},
             auth=allowed("manage_hooks"))
def webhook_receiver_test(request, pk: int):
    """Send a webhook receiver a test delivery.

    A `ping` event, signed as every delivery is, whatever events the receiver asked for; how it went
    is in the delivery log.
    """
    return Status(202, outbound.send_test(get_object_or_404(WebhookReceiver, pk=pk), request.user))


@router.get("/hooks/deliveries", response={200: list[DeliveryOut], **errors()}, auth=allowed("manage_hooks"))
def webhook_delivery_list(request, receiver: int | None = None, state: str = ""):
    """The delivery log, newest first: each event sent, its attempts and the last answer."""
    selected = WebhookDelivery.objects.all()
    if receiver is not None:
        selected = selected.filter(receiver_id=receiver)
    if state in WebhookDelivery.State.values:
        selected = selected.filter(state=state)
    return selected[:RECENT]

"""A push delivered by GitHub or GitLab to /api/hooks/git/<id>: its signature
checked against the hook's secret, a delivery sent again refused, and on a push
to the tracked branch the hook's recipe built again. Every answer is audited.

Nothing is started unless the delivery proves it knows the secret. A delivery
id is remembered only once its signature is good (a stranger cannot use up a
real delivery's id), and is forgotten again when the rebuild could not be
started (the job limit, a role taken away), so that the provider's "Redeliver",
which sends the same id, can try again."""

import json
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from images.accounts import audit
from images.builds.contexts import ContextError
from images.hooks import signatures
from images.jobs import control
from images.models import HookReceipt, HookSource


class Refused(Exception):
    """The delivery is refused with this HTTP status; the message says why. Nothing was started."""

    def __init__(self, status, message):
        self.status = status
        super().__init__(message)


@dataclass
class Answer:
    message: str
    job: object = None  # the rebuild started, if one was


# Per provider: the headers of the signature, the delivery id and the event; the push event's name.
HEADERS = {
    HookSource.Provider.GITHUB: ("X-Hub-Signature-256", "X-GitHub-Delivery", "X-GitHub-Event", "push"),
    HookSource.Provider.GITLAB: ("X-Gitlab-Token", "X-Gitlab-Event-UUID", "X-Gitlab-Event", "Push Hook"),
}
MAX_DELIVERY_ID = 100


def receive(source_id, headers, body, content_type):
    """Answer a delivery to hook `source_id` (`headers` as Django's request.headers, `body` the raw bytes)."""
    source = HookSource.objects.select_related("recipe", "run_as").filter(pk=source_id, enabled=True).first()
    if source is None:
        _audit(None, f"hook {source_id}", audit.REFUSED, "no enabled hook has this id")
        raise Refused(404, f"No enabled hook has the id {source_id}.")
    try:
        return _receive(source, headers, body, content_type)
    except Refused as exc:
        _audit(source, _target(source), audit.REFUSED, str(exc))
        raise


def _receive(source, headers, body, content_type):
    signature_header, delivery_header, event_header, push_event = HEADERS[source.provider]
    provider = source.get_provider_display()
    signature = headers.get(signature_header)
    if not signature:
        raise Refused(401, f"{signature_header} is missing: this hook takes {provider} deliveries made with its "
                           f"secret (set the secret in the {provider} webhook's settings).")
    secret = source.secret()
    valid = (signatures.github_valid(secret, body, signature) if source.provider == HookSource.Provider.GITHUB
             else signatures.gitlab_valid(secret, signature))
    if not valid:
        what = "is not the HMAC-SHA256 of the body" if source.provider == HookSource.Provider.GITHUB else "is not"
        raise Refused(401, f"{signature_header} {what} with this hook's secret: nothing was started.")
    delivery_id = headers.get(delivery_header, "").strip()
    if not delivery_id or len(delivery_id) > MAX_DELIVERY_ID:
        raise Refused(400, f"{delivery_header} is missing or over {MAX_DELIVERY_ID} characters: without it a "
                           "delivery sent again could not be told apart, so none is accepted.")
    event = headers.get(event_header, "").strip()
    if (content_type or "").split(";")[0].strip() != "application/json":
        raise Refused(415, f"The body is {content_type or 'untyped'}: set the {provider} webhook's content type "
                           "to application/json.")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise Refused(400, "The body is not a JSON object.")
    ref = payload.get("ref") if isinstance(payload.get("ref"), str) else ""
    commit = str(payload.get("after") or payload.get("checkout_sha") or "")[:64]
    try:
        with transaction.atomic():
            receipt = HookReceipt.objects.create(source=source, delivery_id=delivery_id, event=event[:50],
                                                 ref=ref[:255], commit=commit, outcome="received")
    except IntegrityError:
        first = HookReceipt.objects.get(source=source, delivery_id=delivery_id)
        raise Refused(409, f"The delivery {delivery_id} was received already, at "
                           f"{first.received_at:%Y-%m-%d %H:%M:%S} UTC: a delivery sent again starts nothing.") from None
    reason = _not_to_build(source, event, push_event, payload, ref)
    if reason:
        return _ended(receipt, Answer(f"{reason}: nothing was started."))
    try:
        job = control.rebuild(source.recipe, source.run_as)
    except control.JobLimitReached as exc:
        receipt.delete()
        raise Refused(429, f"{exc} (the limit of {source.run_as.get_username()}, whom this hook builds as; "
                           "redeliver the push once a job has ended)") from None
    except PermissionDenied as exc:
        receipt.delete()
        raise Refused(403, f"{source.run_as.get_username()}, whom this hook builds as, may not rebuild: {exc}") from None
    except ContextError as exc:
        receipt.delete()
        raise Refused(409, str(exc)) from None
    answer = Answer(f"A push to {source.branch} at {commit[:12] or 'an unnamed commit'}: rebuilding the recipe of "
                    f"job {source.recipe_id} as job {job.pk}.", job)
    return _ended(receipt, answer)


def _not_to_build(source, event, push_event, payload, ref):
    """Why an authentic delivery builds nothing, or None."""
    if source.provider == HookSource.Provider.GITHUB and event == "ping":
        return f"The hook answers: pushes to {source.branch} of {source.repository} rebuild job {source.recipe_id}"
    if event != push_event:
        return f"The event is {event[:50] or 'not named'}, not {push_event}"
    repository = _repository(source, payload)
    if repository.lower() != source.repository.lower():
        return f"The push is to {repository[:200] or 'an unnamed repository'}, not {source.repository}"
    if ref != f"refs/heads/{source.branch}":
        return f"The push is to {ref[:255] or 'no ref'}, not the tracked branch {source.branch}"
    if payload.get("deleted") is True or set(str(payload.get("after") or "")) == {"0"}:
        return f"The push deleted {source.branch}"
    return None


def _repository(source, payload):
    if source.provider == HookSource.Provider.GITHUB:
        holder, key = payload.get("repository"), "full_name"
    else:
        holder, key = payload.get("project"), "path_with_namespace"
    value = holder.get(key) if isinstance(holder, dict) else None
    return value if isinstance(value, str) else ""


def _ended(receipt, answer):
    receipt.outcome = answer.message[:300]
    receipt.job = answer.job
    receipt.save(update_fields=["outcome", "job"])
    source = receipt.source
    _audit(source, _target(source), audit.OK, f"delivery {receipt.delivery_id}: {answer.message}", answer.job)
    return answer


def _target(source):
    return f"hook {source.pk} {source.name}"


def _audit(source, target, outcome, detail, job=None):
    # The delivery's sender is no Dockyard user: the entry names nobody, and its address says where it came from.
    audit.record(None, "hook-receive", target, outcome, detail=detail[:2000], job=job)

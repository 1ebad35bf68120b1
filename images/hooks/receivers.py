"""Webhook receivers, made and deleted by admins, each change audited. The
signing secret is made here and handed back once; only its encryption is stored."""

from urllib.parse import urlsplit

from images.accounts import audit
from images.hooks import signatures


def add_receiver(form, user):
    """Save a valid WebhookReceiverForm; return (receiver, its secret, shown only now)."""
    receiver = form.save(commit=False)
    secret = signatures.new_secret()
    receiver.set_secret(secret)
    receiver.save()
    audit.record(user, "webhook-add", _target(receiver), detail=_detail(receiver))
    return receiver, secret


def change_receiver(form, user):
    receiver = form.save()
    changed = ", ".join(form.changed_data) or "nothing"
    audit.record(user, "webhook-change", _target(receiver), detail=f"{_detail(receiver)}; changed {changed}")
    return receiver


def delete_receiver(receiver, user):
    target, detail = _target(receiver), _detail(receiver)
    receiver.delete()
    audit.record(user, "webhook-delete", target, detail=detail)


def _target(receiver):
    return f"webhook {receiver.pk} {receiver.name}"


def _detail(receiver):
    # The host only: a URL's path can be a secret of its own (a chat service's incoming-webhook token).
    return (f"to {urlsplit(receiver.url).hostname} as {receiver.format} for {', '.join(receiver.events)}"
            f"{'' if receiver.enabled else ' (disabled)'}")

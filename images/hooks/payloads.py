"""The bodies a delivery sends, by the receiver's format: generic JSON (the
event and its data, for programs) or a Slack-compatible message (`text` and
`blocks`, for a chat channel's incoming webhook). Either is signed the same way."""

import json

from images.models import WebhookReceiver

# Slack's mrkdwn reads these three as markup; what an event names (tags, errors) is shown as written.
_MRKDWN_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def body_of(delivery):
    """The bytes sent: the same on every attempt (the signature's time is what changes)."""
    if delivery.receiver.format == WebhookReceiver.Format.SLACK:
        document = slack_message(delivery)
    else:
        document = {"id": delivery.pk, "event": delivery.event, "created_at": delivery.created_at.isoformat(),
                    "data": delivery.payload}
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def slack_message(delivery):
    summary = summary_of(delivery.event, delivery.payload)
    return {"text": summary, "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": _escaped(summary)}},
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": _escaped(f"Dockyard · {delivery.event} · delivery {delivery.pk}")}]},
    ]}


def summary_of(event, data):
    """One or two lines saying what happened, as a person reads them."""
    if event in ("job.succeeded", "job.failed"):
        job = data.get("job") or {}
        line = f"Job {job.get('id')} ({job.get('kind')} of {job.get('target')}) {job.get('state')} on {job.get('engine')}."
        return line + (f"\n{job['error']}" if job.get("error") else "")
    if event == "base.updated":
        built_on = data.get("dependents") or []
        moved = (f"{data.get('old_digest')} → {data.get('new_digest')}" if data.get("new_digest")
                 and data.get("new_digest") != data.get("old_digest")
                 else f"{data.get('old_image_id') or 'another image'} → {data.get('new_image_id')}")
        return (f"Base {data.get('reference')} moved on {data.get('engine')} ({moved}); "
                f"{len(built_on)} image{'' if len(built_on) == 1 else 's'} built on it.")
    if event == "rebuild.batch_finished":
        items = data.get("items") or []
        counts = {}
        for item in items:
            counts[item.get("state")] = counts.get(item.get("state"), 0) + 1
        told = ", ".join(f"{count} {state}" for state, count in sorted(counts.items())) or "nothing to rebuild"
        return f"Rebuild batch {data.get('batch')} of what is built on {data.get('base')} {data.get('state')}: {told}."
    if "message" in data:
        return str(data["message"])
    return f"Dockyard event {event}."


def _escaped(text):
    return text.translate(_MRKDWN_ESCAPES)

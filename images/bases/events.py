"""Where base updates and rebuild batches tell the rest of Dockyard what
happened: `announce` sends the `base_event` signal (and logs it). Outbound
notifications (webhooks) connect a receiver to `base_event`; nothing here
knows who listens.

Events and their payloads (JSON-ready dicts):
- "base.updated": engine, reference, old_digest, new_digest, old_image_id,
  new_image_id, noticed_at (ISO 8601), dependents (image ids built on the old one).
- "rebuild.batch_finished": engine, batch (id), url (its page's path), base,
  state (succeeded or failed), items ([{name, state, job, image_id, reason}]).
"""

import logging

from django.dispatch import Signal

log = logging.getLogger(__name__)

BASE_UPDATED = "base.updated"
BATCH_FINISHED = "rebuild.batch_finished"

# Receivers get sender=None, event=<one of the names above>, payload=<dict>.
base_event = Signal()


def announce(event, payload):
    """Tell every receiver of `base_event`; a receiver that fails is logged and
    never stops the check or the batch that announced."""
    log.info("%s: %s", event, {key: value for key, value in payload.items() if key != "items"})
    for receiver, outcome in base_event.send_robust(sender=None, event=event, payload=payload):
        if isinstance(outcome, Exception):
            log.warning("A receiver of %s (%r) failed: %s", event, receiver, outcome)

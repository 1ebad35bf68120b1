"""Pull and push progress, one entry per layer, from the engine's many progress events."""

import re
import time

_DIGEST = re.compile(r"^Digest: (\S+)$")
_COMPLETE = {"Download complete", "Pull complete", "Already exists", "Pushed", "Layer already exists"}


class LayerProgress:
    """Keeps the latest state of each layer; `due()` says when a snapshot may be
    sent, so that at most `rate` updates a second reach the browser however
    many events the engine sends."""

    def __init__(self, rate=10, clock=time.monotonic):
        self.interval = 1 / rate
        self.clock = clock
        self.layers = {}
        self.digest = None
        self._changed = False
        self._sent_at = None

    def feed(self, message):
        """Read one pull or push message; return the log line it makes, or None
        for a progress event that only moves a bar."""
        status = message.get("status") or ""
        layer = message.get("id")
        detail = message.get("progressDetail") or {}
        match = _DIGEST.match(status)
        if match:
            self.digest = match[1]
            self._changed = True
        aux = message.get("aux")
        if isinstance(aux, dict) and aux.get("Digest"):
            self.digest = aux["Digest"]
            self._changed = True
            return None
        if layer and status and not status.startswith(("Pulling from", "Digest:", "Status:")):
            entry = self.layers.setdefault(layer, {"id": layer, "status": "", "current": 0, "total": 0})
            entry["status"] = status
            if detail.get("total"):
                entry["current"] = detail.get("current") or 0
                entry["total"] = detail["total"]
            elif status in _COMPLETE:
                entry["current"] = entry["total"]
            self._changed = True
            if detail:
                return None
        return f"{layer}: {status}" if layer else status

    def due(self):
        if not self._changed:
            return False
        now = self.clock()
        if self._sent_at is not None and now - self._sent_at < self.interval:
            return False
        self._sent_at = now
        self._changed = False
        return True

    def snapshot(self):
        return {"layers": [dict(layer) for layer in self.layers.values()], "digest": self.digest}

"""A classic-builder build read as steps, from its output lines.

The engine prints `Step N/M : INSTRUCTION` when a step starts, ` ---> Using
cache` when it comes from the cache, and ` ---> <id>` when it is committed.
"""

import re
import time

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_COMMITTED = re.compile(r"^ ---> ([0-9a-f]{12})$")
_CACHED = " ---> Using cache"


class StepTracker:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.steps = []
        self._started = None

    def feed(self, line):
        """Read one output line; return True when the steps changed."""
        if not line.startswith(("Step ", " ---> ")):
            return False  # program output, most lines of a busy build
        match = _STEP.match(line)
        if match:
            self._close_running("done")
            self.steps.append({
                "number": int(match[1]),
                "total": int(match[2]),
                "instruction": match[3],
                "status": "running",
                "duration": None,
                "error": "",
            })
            self._started = self.clock()
            return True
        if not self.steps or self._started is None:
            return False
        if line.startswith(_CACHED):
            self.steps[-1]["status"] = "cached"
            return True
        if _COMMITTED.match(line):
            self._close_running("cached" if self.steps[-1]["status"] == "cached" else "done")
            return True
        return False

    def fail(self, error):
        """The build failed: the step under way (if any) is the one that failed."""
        if self._close_running("failed"):
            self.steps[-1]["error"] = error
            return True
        return False

    def finish(self):
        return self._close_running("done")

    def _close_running(self, status):
        if self.steps and self._started is not None:
            self.steps[-1]["status"] = status
            self.steps[-1]["duration"] = round(self.clock() - self._started, 3)
            self._started = None
            return True
        return False

    def snapshot(self):
        return [dict(step) for step in self.steps]

"""A classic-builder build read as steps, from the engine's `stream` messages.

The engine sends `Step N/M : INSTRUCTION` as a message of its own when a step
starts (its newline follows as another), ` ---> Using cache` when the step
comes from the cache, and ` ---> <id>` when it is committed. A RUN (and, on
Docker 20.10, every metadata step) runs in a container: the engine says
` ---> Running in <id>`, then the program's output follows, then `Removing
intermediate container <id>` (Dockyard always builds with rm), then the commit.

The program's output can print anything, headers included, so text alone
cannot tell them apart. What can: a header is read only when no step is
running (the one before committed, or none yet), only as the next number, only
with the total the first header gave, and never past that total or the
Dockerfile's instruction count. So a build has at most as many steps as its
Dockerfile has instructions, whatever it prints.
"""

import re
import time

_HEADER = re.compile(r"Step (\d+)/(\d+) : ([^\n]*)\n?")
_RUNNING = re.compile(r" ---> Running in ([0-9a-f]{12})\n")
_COMMITTED = re.compile(r" ---> [0-9a-f]{12}\n")
_CACHED = " ---> Using cache\n"


class StepTracker:
    def __init__(self, limit=None, clock=time.monotonic):
        """`limit`: the Dockerfile's instruction count, where it is known."""
        self.clock = clock
        self.limit = limit
        self.steps = []
        self._started = None  # when the running step started; None: no step running
        self._removed = None  # while a container's output comes: the line that ends it

    def feed(self, text):
        """Read one `stream` message; return the steps it changed (copies)."""
        if self._removed is not None:
            # The program's output, until the engine removes its container.
            if text == self._removed:
                self._removed = None
            return []
        if self._started is None:
            return self._start(text)
        running = _RUNNING.fullmatch(text)
        if running:
            self._removed = f"Removing intermediate container {running[1]}\n"
            return []
        if text == _CACHED:
            self.steps[-1]["status"] = "cached"
            return [dict(self.steps[-1])]
        if _COMMITTED.fullmatch(text):
            return self._close("cached" if self.steps[-1]["status"] == "cached" else "done")
        return []

    def _start(self, text):
        header = _HEADER.fullmatch(text)
        if not header:
            return []
        number, total = int(header[1]), int(header[2])
        expected_total = self.steps[0]["total"] if self.steps else total
        cap = min(expected_total, self.limit) if self.limit is not None else expected_total
        if number != len(self.steps) + 1 or total != expected_total or number > cap:
            return []
        self.steps.append({"number": number, "total": total, "instruction": header[3], "status": "running",
                           "duration": None, "error": ""})
        self._started = self.clock()
        return [dict(self.steps[-1])]

    def fail(self, error):
        """The build failed: the step under way (if any) is the one that failed."""
        changed = self._close("failed")
        if changed:
            self.steps[-1]["error"] = changed[0]["error"] = error
        return changed

    def finish(self):
        return self._close("done")

    def _close(self, status):
        if self._started is None:
            return []
        self.steps[-1]["status"] = status
        self.steps[-1]["duration"] = round(self.clock() - self._started, 3)
        self._started = None
        self._removed = None
        return [dict(self.steps[-1])]

    def snapshot(self):
        return [dict(step) for step in self.steps]


_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(\S*)\s*")


def count_instructions(dockerfile):
    """How many instructions the builder reads in a Dockerfile (its `M` in
    `Step N/M`): logical lines that are neither empty nor comments, with line
    continuations joined, as the classic builder's parser joins them."""
    escape = "\\"
    count = 0
    continued = False
    directives = True
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if directives:
            directive = _DIRECTIVE.fullmatch(line)
            if directive:
                if directive[1].lower() == "escape" and directive[2] in ("\\", "`"):
                    escape = directive[2]
                continue
            directives = False
        if not line or line.startswith("#"):
            continue  # also inside a continued instruction, which goes on after it
        if not continued:
            count += 1
        continued = line.endswith(escape)
    return count

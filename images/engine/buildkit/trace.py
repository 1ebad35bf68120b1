"""A BuildKit build read from its progress trace, as a graph of vertices.

The engine sends each `moby.buildkit.trace` message's `aux` as a base64
`StatusResponse` (decoded with the classes generated from protos/control.proto).
`BuildGraph.feed` takes one and returns the lines `docker build --progress=plain`
would print for it (`#3 [a 2/2] RUN ...`, `#3 0.512 hello`, `#3 DONE 2.0s`);
`take_changes` then gives the vertices and transfers changed since it was last
asked, whole, and `snapshot` the whole graph (Job.graph's shape, see BUILDKIT.md).

A vertex's log comes in pieces cut anywhere, a multibyte character included:
each vertex has its own incremental decoder and line splitter.
"""

import base64
import codecs
import re

from google.protobuf.message import DecodeError

from images.engine.buildkit.protos import control_pb2
from images.engine.client import EngineError
from images.engine.output import LineSplitter

TRACE_ID = "moby.buildkit.trace"
IMAGE_ID = "moby.image.id"

# "[a 2/3] RUN ...", "[2/3] RUN ...", "[internal] load ...", "[stage-1 1/2] FROM ..."
# (BuildKit pads the step number to the total's width: "[ 2/10]".)
_PREFIX = re.compile(r"\[(?:(?P<stage>[^\]\s]+) )?\s*(?P<step>\d+/\d+)\] (?P<instruction>.*)", re.DOTALL)
# BuildKit's own per-step cap: it stops passing a step's output on and says so.
_ENGINE_CLIP = re.compile(r"\[output clipped, log limit [^\]]*\]")
# A vertex stopped because the build stopped (another failed, or a cancel): the
# engine's error for it ends so, "...: exit code: 137: context canceled" for a RUN.
CANCELLED_ERRORS = ("context canceled", "context cancelled")


class TraceError(EngineError):
    """A trace message that is not a StatusResponse."""


def decode(aux):
    """The StatusResponse in a trace message's `aux` (base64 protobuf)."""
    try:
        status = control_pb2.StatusResponse()
        status.ParseFromString(base64.b64decode(aux, validate=True))
    except (DecodeError, ValueError, TypeError) as exc:
        raise TraceError(f"A BuildKit trace message could not be read: {exc}") from exc
    return status


def _seconds(timestamp):
    return round(timestamp.seconds + timestamp.nanos / 1e9, 6)


class _Vertex:
    __slots__ = ("record", "decoder", "splitter", "started", "header_written", "ended", "final")

    def __init__(self, record):
        self.record = record
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.splitter = LineSplitter()
        self.started = None  # epoch seconds of the latest start, for log elapsed times
        self.header_written = False
        self.ended = False  # its end line written
        self.final = None  # the state its last end line said


class BuildGraph:
    def __init__(self, line_of=None):
        """`line_of(stage, step, instruction)`: the Dockerfile line a vertex's
        instruction comes from, or None (images/builds/dockerfile.StageLines)."""
        self._line_of = line_of
        self._vertices = {}  # digest -> _Vertex, in first-seen order
        self._started_order = []  # digests, as they first start
        self._transfers = {}  # (digest, id) -> dict
        self.warnings = []
        self._changed = set()
        self._changed_transfers = set()
        self.urgent = False  # a vertex started, ended or appeared, or a transfer did: worth storing at once

    # Reading ------------------------------------------------------------------
    def feed(self, status):
        """Read one StatusResponse; return the lines it adds."""
        lines = []
        for vertex in status.vertexes:
            self._vertex(vertex, lines)
        for item in status.statuses:
            self._transfer(item, lines)
        for log in status.logs:
            self._log(log, lines)
        for warning in status.warnings:
            self._warning(warning, lines)
        return lines

    def _known(self, digest, name=""):
        known = self._vertices.get(digest)
        if known is None:
            stage, step = parse_name(name)
            known = _Vertex({
                "n": len(self._vertices) + 1, "digest": digest, "name": name, "stage": stage, "step": step,
                "inputs": [], "state": "waiting", "started": None, "completed": None, "cached": False,
                "error": "", "line": self._line(name), "log_lines": 0,
                "engine_clipped": False})
            self._vertices[digest] = known
            self._changed.add(digest)
            self.urgent = True
        return known

    def _line(self, name):
        match = _PREFIX.match(name)
        if not match or self._line_of is None:
            return None
        return self._line_of(match["stage"] or "", match["step"], match["instruction"])

    def _vertex(self, vertex, lines):
        known = self._known(vertex.digest, vertex.name)
        record = known.record
        before = (record["state"], record["started"], record["completed"], record["cached"], record["error"],
                  record["name"], len(record["inputs"]))
        if vertex.name and vertex.name != record["name"]:
            record["name"] = vertex.name
            record["stage"], record["step"] = parse_name(vertex.name)
            record["line"] = self._line(vertex.name)
        record["inputs"] = [self._vertices[digest].record["n"] for digest in vertex.inputs if digest in self._vertices]
        if vertex.cached:
            record["cached"] = True
        if vertex.HasField("started"):
            known.started = _seconds(vertex.started)
            if record["started"] is None:
                record["started"] = known.started
                self._started_order.append(vertex.digest)
            if not known.header_written:
                known.header_written = True
                lines.append(f"#{record['n']} {record['name']}")
        if vertex.error:
            record["error"] = vertex.error
        if vertex.HasField("completed"):
            record["completed"] = _seconds(vertex.completed)
            record["state"] = self._end_state(record)
            lines.extend(self._flush(known))
            # The engine may start a vertex again (a base's metadata resolved twice):
            # its end is written again only if it ends differently, as a failure.
            if not known.ended and known.final != record["state"]:
                lines.append(self._end_line(record))
            known.ended, known.final = True, record["state"]
        elif vertex.HasField("started"):
            record["state"] = "cached" if record["cached"] else "running"
            known.ended = False
        elif vertex.cached:
            record["state"] = "cached"
        after = (record["state"], record["started"], record["completed"], record["cached"], record["error"],
                 record["name"], len(record["inputs"]))
        if after != before:
            self._changed.add(vertex.digest)
            self.urgent = True

    @staticmethod
    def _end_state(record):
        if record["error"]:
            return "cancelled" if record["error"].strip().lower().endswith(CANCELLED_ERRORS) else "failed"
        return "cached" if record["cached"] else "done"

    @staticmethod
    def _end_line(record):
        n = record["n"]
        if record["state"] in ("failed", "cancelled"):
            return f"#{n} ERROR: {record['error']}" if record["state"] == "failed" else f"#{n} CANCELED"
        if record["state"] == "cached":
            return f"#{n} CACHED"
        took = (record["completed"] - record["started"]) if record["started"] is not None else 0.0
        return f"#{n} DONE {max(took, 0.0):.1f}s"

    def _transfer(self, item, lines):
        known = self._known(item.vertex)
        key = (item.vertex, item.ID)
        transfer = self._transfers.get(key)
        if transfer is None:
            transfer = self._transfers[key] = {"vertex": known.record["n"], "id": item.ID, "name": item.name or item.ID,
                                               "current": 0, "total": 0, "completed": False}
        was_completed = transfer["completed"]
        transfer.update(current=item.current, total=item.total, completed=item.HasField("completed"))
        self._changed_transfers.add(key)
        if transfer["completed"] and not was_completed:
            self.urgent = True
            size = f" {_size(item.current)}" if item.current else ""
            lines.append(f"#{known.record['n']} {transfer['name']}{size} done")

    def _log(self, log, lines):
        known = self._known(log.vertex)
        text = known.decoder.decode(log.msg)
        if not text:
            return
        if _ENGINE_CLIP.search(text) and not known.record["engine_clipped"]:
            known.record["engine_clipped"] = True
        elapsed = max(_seconds(log.timestamp) - known.started, 0.0) if known.started is not None else 0.0
        split = known.splitter.feed(text)
        if split:
            prefix = f"#{known.record['n']} {elapsed:.3f} "
            lines.extend(prefix + line for line in split)
            known.record["log_lines"] += len(split)
            self._changed.add(log.vertex)

    def _flush(self, known):
        """A vertex's last partial line, when it ends."""
        rest = known.splitter.feed(known.decoder.decode(b"", final=True)) + known.splitter.close()
        known.decoder.reset()
        if not rest:
            return []
        known.record["log_lines"] += len(rest)
        self._changed.add(known.record["digest"])
        elapsed = f"{max((known.record['completed'] or known.started or 0) - (known.started or 0), 0.0):.3f}"
        return [f"#{known.record['n']} {elapsed} {line}" for line in rest]

    def _warning(self, warning, lines):
        known = self._known(warning.vertex)
        short = warning.short.decode("utf-8", "replace")
        self.warnings.append({"vertex": known.record["n"], "level": warning.level, "short": short,
                              "detail": [part.decode("utf-8", "replace") for part in warning.detail],
                              "url": warning.url})
        lines.append(f"#{known.record['n']} WARN: {short}")
        self._changed.add(warning.vertex)
        self.urgent = True

    # Ending -------------------------------------------------------------------
    def finish(self, succeeded):
        """The build ended: flush every vertex's partial line, and mark what never
        ended as cancelled (or, after a success, done). Return the lines."""
        lines = []
        for digest, known in self._vertices.items():
            lines.extend(self._flush(known))
            record = known.record
            if record["state"] in ("waiting", "running"):
                record["state"] = "done" if succeeded and record["state"] == "running" else "cancelled"
                self._changed.add(digest)
                if known.header_written and not known.ended:
                    known.ended = True
                    lines.append(f"#{record['n']} CANCELED")
        return lines

    # Reporting ----------------------------------------------------------------
    @property
    def changed(self):
        return bool(self._changed or self._changed_transfers)

    def take_changes(self):
        """(vertices, transfers) changed since the last call, as copies."""
        vertices = [dict(self._vertices[digest].record, inputs=list(self._vertices[digest].record["inputs"]))
                    for digest in self._changed]
        vertices.sort(key=lambda vertex: vertex["n"])
        transfers = [dict(self._transfers[key]) for key in self._changed_transfers]
        self._changed.clear()
        self._changed_transfers.clear()
        self.urgent = False
        return vertices, transfers

    def vertex(self, n):
        return next((dict(known.record) for known in self._vertices.values() if known.record["n"] == n), None)

    def failed(self):
        """The vertices that failed (not those cancelled because another did)."""
        return [dict(known.record) for known in self._vertices.values() if known.record["state"] == "failed"]

    def snapshot(self):
        """The whole graph: vertices in start order, then those never started."""
        started = [self._vertices[digest] for digest in self._started_order]
        waiting = [known for known in self._vertices.values() if known.record["started"] is None]
        return {"vertices": [dict(known.record, inputs=list(known.record["inputs"])) for known in started + waiting],
                "transfers": [dict(transfer) for transfer in self._transfers.values()],
                "warnings": [dict(warning) for warning in self.warnings]}


def parse_name(name):
    """(stage, step) from a vertex name's "[stage i/m]" prefix: ("a", "2/3"),
    ("", "1/2") for a one-stage build, ("", "") for "[internal] ..." and others."""
    match = _PREFIX.match(name)
    if not match:
        return "", ""
    return match["stage"] or "", match["step"]


def _size(count):
    for unit in ("B", "kB", "MB"):
        if count < 1000:
            return f"{count:.0f}{unit}" if unit == "B" else f"{count:.2f}{unit}"
        count /= 1000
    return f"{count:.2f}GB"

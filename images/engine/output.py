"""Turning an engine stream into lines.

The SDK's `decode=True` decodes each HTTP chunk on its own, which mangles a
UTF-8 character split across two chunks. Here the raw chunks go through one
incremental decoder first, then the SDK's own JSON message splitter.
"""

import codecs

from docker.utils.json_stream import json_stream

MAX_LINE_CHARS = 64 * 1024


def decode_chunks(chunks):
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for chunk in chunks:
        yield decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def engine_messages(chunks):
    """The engine's JSON messages (dicts) from its raw response chunks."""
    return json_stream(decode_chunks(chunks))


class LineSplitter:
    """Joins the engine's text fragments into whole lines.

    The engine sends a step header and its newline as two messages, and a
    program's output in whatever pieces it wrote; a line ends only at "\\n".
    A line longer than MAX_LINE_CHARS is cut, so one endless line cannot hold
    the worker's memory."""

    def __init__(self, max_chars=MAX_LINE_CHARS):
        self.max_chars = max_chars
        self._partial = []
        self._size = 0

    def feed(self, text):
        # One split for the whole fragment: a run's output comes in blocks of
        # thousands of lines, and cutting each line off the rest copied the rest.
        *ended, rest = text.split("\n")
        lines = []
        if ended:
            self._partial.append(ended[0])
            lines.append(self._take())
            lines += ended[1:]
        if rest:
            self._partial.append(rest)
            self._size += len(rest)
        if any(len(line) > self.max_chars for line in lines):
            lines = [cut for line in lines for cut in self._cut(line)]
        while self._size > self.max_chars:
            joined = "".join(self._partial)
            lines.append(joined[: self.max_chars])
            rest = joined[self.max_chars:]
            self._partial, self._size = [rest], len(rest)
        return [line[:-1] if line.endswith("\r") else line for line in lines]

    def _cut(self, line):
        return [line[start:start + self.max_chars] for start in range(0, len(line), self.max_chars)] or [line]

    def close(self):
        return [self._take()] if self._partial else []

    def _take(self):
        line = "".join(self._partial)
        self._partial, self._size = [], 0
        return line

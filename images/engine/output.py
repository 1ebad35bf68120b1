"""Turning an engine stream into lines.

The SDK's `decode=True` decodes each HTTP chunk on its own, which mangles a
UTF-8 character split across two chunks. Here the raw chunks go through one
incremental decoder first, then a JSON message splitter that reads each block
once: the SDK's copies the rest of its buffer after every message, which for
a chatty build's 64 KB blocks of a thousand one-line messages doubled the cost
of reading them.
"""

import codecs
import json
import re

from docker.errors import StreamParseError

MAX_LINE_CHARS = 64 * 1024


def decode_chunks(chunks):
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for chunk in chunks:
        yield decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"\s*")


def engine_messages(chunks):
    """The engine's JSON messages (dicts) from its raw response chunks, as
    the SDK's json_stream splits them: one after another, with or without
    white space between; a message cut at a block's end waits for the next."""
    rest = ""
    for text in decode_chunks(chunks):
        buffer = rest + text if rest else text
        pos, end = _SPACE.match(buffer).end(), len(buffer)
        while pos < end:
            try:
                message, pos = _DECODER.raw_decode(buffer, pos)
            except ValueError:
                break  # not whole yet
            yield message
            pos = _SPACE.match(buffer, pos).end()
        rest = buffer[pos:]
    if rest:
        try:
            yield _DECODER.decode(rest)
        except ValueError as exc:
            raise StreamParseError(exc) from exc


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
        self._partial_has_cr = False

    def feed(self, text):
        # Most output has no "\r" at all, and then the pass that strips a CRLF's
        # "\r" from every line finds nothing. A "\r" can still come in the held
        # part of a line, when it ended one fragment and "\n" began the next.
        has_cr = "\r" in text or self._partial_has_cr
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
        self._partial_has_cr = has_cr and bool(self._partial)
        if not has_cr:
            return lines
        return [line[:-1] if line.endswith("\r") else line for line in lines]

    def _cut(self, line):
        return [line[start:start + self.max_chars] for start in range(0, len(line), self.max_chars)] or [line]

    def close(self):
        return [self._take()] if self._partial else []

    def _take(self):
        line = "".join(self._partial)
        self._partial, self._size, self._partial_has_cr = [], 0, False
        return line

"""Searching the whole stored output of a job: plain text or a regular
expression, over every chunk, counting the lines that match.

Each chunk's texts are searched as one string (a line per row), so a chunk
without a match costs a decompression and one scan, and lines are cut out only
where something matched. Regular expressions run on the `regex` package, which
takes a timeout, because the standard `re` cannot be stopped: a pattern such as
`(a+)+$` would otherwise hold a web process for ever.
"""

import time

import regex

from images.jobs import logstore
from images.models import LogChunk

PAGE = 200  # matching lines returned a request
MAX_QUERY = 500  # characters
# Processor time, which is what `regex` counts: a busy host stretches it in wall time.
REGEX_SECONDS = 1.0


class SearchError(ValueError):
    """A search that cannot be run or was stopped; the message says why."""


def _line_indexes(text, starts, newline):
    """The indexes of the lines in which the offsets `starts` fall, in order."""
    line, pos = 0, 0
    for start in starts:
        line += text.count(newline, pos, start)
        pos = start
        yield line


def _matcher(query, is_regex, case):
    """A function from a chunk's texts (UTF-8, a line per row) to the indexes
    of the lines that match, each once."""
    if is_regex:
        try:
            pattern = regex.compile(query, regex.MULTILINE | (0 if case else regex.IGNORECASE))
        except regex.error as exc:
            raise SearchError(f"Not a regular expression: {exc}.") from None
        deadline = time.thread_time() + REGEX_SECONDS

        def regex_starts(text):
            pos = 0
            while True:
                try:
                    found = pattern.search(text, pos, timeout=max(deadline - time.thread_time(), 0.001))
                except TimeoutError:
                    raise SearchError(f"The regular expression took over {REGEX_SECONDS:g} s of processor time and "
                                      "was stopped; make it more specific.") from None
                if found is None:
                    return
                yield found.start()
                pos = text.find("\n", found.start()) + 1  # a line counts once
                if pos == 0:
                    return

        def regex_lines(data):
            text = data.decode("utf-8", "replace")
            return _line_indexes(text, regex_starts(text), "\n")
        return regex_lines

    if case or query.isascii():
        # UTF-8 is searched as bytes: an exact needle matches only at a
        # character; an ASCII one, lowered, finds every case of itself.
        needle = query.encode() if case else query.lower().encode()

        def byte_starts(haystack):
            pos = haystack.find(needle)
            while pos != -1:
                yield pos
                end = haystack.find(b"\n", pos)
                if end == -1:
                    return
                pos = haystack.find(needle, end + 1)

        def byte_lines(data):
            haystack = data if case else data.lower()
            hits = haystack.count(needle)
            if not hits:
                return ()
            if hits * 8 > haystack.count(b"\n"):  # in many lines: cheaper to look at each line
                return (index for index, line in enumerate(haystack.split(b"\n")) if needle in line)
            return _line_indexes(haystack, byte_starts(haystack), b"\n")
        return byte_lines

    needle = query.casefold()

    def casefolded_lines(data):
        return (index for index, line in enumerate(data.decode("utf-8", "replace").split("\n"))
                if needle in line.casefold())
    return casefolded_lines


def search(job_id, query, after=0, is_regex=False, case=False, page=PAGE):
    """Lines of the job's stored output that match `query`: how many there are
    in all, and the first `page` of them after line `after`, [seq, text, ms]."""
    if not query:
        raise SearchError("Say what to search for.")
    if len(query) > MAX_QUERY:
        raise SearchError(f"A search is at most {MAX_QUERY} characters.")
    matching = _matcher(query, is_regex, case)
    count, later, found = 0, 0, []
    chunks = LogChunk.objects.filter(job_id=job_id).order_by("last_seq")
    for first_seq, last_seq, first_ms, data in chunks.values_list(
            "first_seq", "last_seq", "first_ms", "data").iterator(chunk_size=50):
        indexes = list(matching(logstore.text_bytes(data)))
        if not indexes:
            continue
        count += len(indexes)
        if last_seq <= after:
            continue
        if len(found) >= page and first_seq > after:
            later += len(indexes)
            continue
        lines = logstore.decode(data, first_seq, first_ms)
        matched = [lines[i] for i in indexes if lines[i][0] > after]
        later += len(matched)
        found.extend(matched)
    found = found[:page]
    return {"count": count, "lines": found, "next_after": found[-1][0] if found else after,
            "more": later > len(found)}

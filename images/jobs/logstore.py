"""A job's output lines as stored: in compressed chunks of up to CHUNK_LINES
lines or CHUNK_BYTES bytes, each line with its number and the time it arrived.

A row per line cost a million rows (and their index) for a million-line build;
a chunk of a thousand lines is one row, compressed to a fraction of its text.
Every read names the lines it wants by number, and reads only the chunks that
hold them (`first_seq`, `last_seq`).

A chunk's data, Zstandard-compressed: the line count n (4 bytes), n
line-number deltas and n arrival-time deltas (ms), each as a signed 32-bit
little-endian integer, then the texts joined by newlines (a stored line never
holds one). Zstandard at level 1 stores a build log as small as zlib at 6 but
compresses it five times as fast, which a full-speed build's writer feels;
it is the standard library's from Python 3.14, its backport before.
"""

import struct
import sys
from array import array
from itertools import accumulate

from django.db import transaction

from images.models import LogChunk

try:
    from compression import zstd
except ImportError:  # Python < 3.14
    from backports import zstd

CHUNK_LINES = 1000
CHUNK_BYTES = 256 * 1024
COMPRESSION = 1
_READ_CHUNKS = 8  # chunks fetched per query while reading forward
_HEADER = struct.Struct("<I")


def _ints(values):
    numbers = array("i", values)
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers.tobytes()


def _unints(data):
    numbers = array("i")
    numbers.frombytes(data)
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers


def encode(lines, first_seq, first_ms):
    """The data of a chunk holding `lines`, (seq, text, ms) in order."""
    seqs = [seq for seq, _, _ in lines]
    times = [ms for _, _, ms in lines]
    payload = b"".join((
        _HEADER.pack(len(lines)),
        _ints(b - a for a, b in zip([first_seq] + seqs, seqs)),
        _ints(b - a for a, b in zip([first_ms] + times, times)),
        "\n".join(text for _, text, _ in lines).encode("utf-8", "surrogateescape"),
    ))
    return zstd.compress(payload, COMPRESSION)


def _payload(data):
    payload = zstd.decompress(data)
    (count,) = _HEADER.unpack_from(payload)
    return payload, count, _HEADER.size + 8 * count


def text_bytes(data):
    """A chunk's texts as UTF-8, a line per row: what search reads."""
    payload, _, start = _payload(data)
    return payload[start:]


def decode(data, first_seq, first_ms):
    """A chunk's lines, [seq, text, ms] in order."""
    payload, count, start = _payload(data)
    head = _HEADER.size
    seqs = accumulate(_unints(payload[head:head + 4 * count]), initial=first_seq)
    times = accumulate(_unints(payload[head + 4 * count:start]), initial=first_ms)
    next(seqs), next(times)
    texts = payload[start:].decode("utf-8", "surrogateescape").split("\n") if count else []
    return [list(line) for line in zip(seqs, texts, times)]


def _fits(lines, size, text):
    return not lines or (len(lines) < CHUNK_LINES and size + len(text) + 1 <= CHUNK_BYTES)


def chunked(lines):
    """`lines` cut into runs that fill chunks."""
    run, size = [], 0
    for line in lines:
        if not _fits(run, size, line[1]):
            yield run
            run, size = [], 0
        run.append(line)
        size += len(line[1]) + 1
    if run:
        yield run


def chunk_row(job_id, lines):
    return LogChunk(job_id=job_id, first_seq=lines[0][0], last_seq=lines[-1][0], line_count=len(lines),
                    first_ms=lines[0][2], data=encode(lines, lines[0][0], lines[0][2]))


def _rewrite(chunk, lines):
    """Store `lines` in place of what `chunk` held (its row stays, so a writer
    holding it open keeps writing to it); an empty chunk is removed."""
    if not lines:
        chunk.delete()
        return
    chunk.first_seq, chunk.last_seq, chunk.line_count = lines[0][0], lines[-1][0], len(lines)
    chunk.first_ms = lines[0][2]
    chunk.data = encode(lines, chunk.first_seq, chunk.first_ms)
    chunk.save(update_fields=["first_seq", "last_seq", "line_count", "first_ms", "data"])


class OpenChunk:
    """The last chunk a writer is filling: kept in memory, rewritten with each
    batch until it is full, so a slow build's lines do not take a row each."""

    def __init__(self, job_id):
        self.job_id = job_id
        self.row = None
        self.lines = []
        self.size = 0

    def append(self, lines):
        """Store `lines` (seq, text, ms), new ones after all stored: the open
        chunk rewritten, full chunks added in one INSERT."""
        if not lines:
            return
        start = 0
        while start < len(lines) and _fits(self.lines, self.size, lines[start][1]):
            self.lines.append(lines[start])
            self.size += len(lines[start][1]) + 1
            start += 1
        rest = list(chunked(lines[start:]))
        with transaction.atomic():
            if self.row is None:
                self.row = chunk_row(self.job_id, self.lines)
                self.row.save()
            elif start:
                _rewrite(self.row, self.lines)
            if rest:
                rows = [chunk_row(self.job_id, run) for run in rest]
                LogChunk.objects.bulk_create(rows)
                self.row, self.lines = rows[-1], rest[-1]
                self.size = sum(len(text) + 1 for _, text, _ in self.lines)

    def forget(self, first, last):
        """Lines first..last were removed from storage (`drop`): the open chunk
        forgets them too, or is done with if none are left."""
        self.lines = [line for line in self.lines if not first <= line[0] <= last]
        self.size = sum(len(text) + 1 for _, text, _ in self.lines)
        if not self.lines:
            self.row = None


def drop(job_id, first, last):
    """Remove lines first..last: the chunks within go whole, the one or two
    that straddle an end are rewritten without them."""
    with transaction.atomic():
        chunks = LogChunk.objects.filter(job_id=job_id, last_seq__gte=first, first_seq__lte=last)
        chunks.filter(first_seq__gte=first, last_seq__lte=last).delete()
        for chunk in chunks.exclude(first_seq__gte=first, last_seq__lte=last):
            kept = [line for line in decode(chunk.data, chunk.first_seq, chunk.first_ms)
                    if not first <= line[0] <= last]
            _rewrite(chunk, kept)


def read(job_id, after=0, limit=None, until=None):
    """Stored lines [seq, text, ms] after line `after` (to `until`), at most
    `limit` of them, reading only the chunks that hold them."""
    out = []
    cursor = after
    while limit is None or len(out) < limit:
        chunks = LogChunk.objects.filter(job_id=job_id, last_seq__gt=cursor).order_by("last_seq")
        if until is not None:
            chunks = chunks.filter(first_seq__lte=until)
        # Enough chunks for what is still wanted if they are full, and one more.
        wanted = _READ_CHUNKS if limit is None else min(_READ_CHUNKS, (limit - len(out)) // CHUNK_LINES + 2)
        rows = list(chunks.values_list("first_seq", "last_seq", "first_ms", "data")[:wanted])
        for first_seq, last_seq, first_ms, data in rows:
            if limit is not None and len(out) >= limit:
                break
            for line in decode(data, first_seq, first_ms):
                if line[0] > after and (until is None or line[0] <= until):
                    out.append(line)
            cursor = last_seq
        if len(rows) < wanted:
            break
    return out if limit is None else out[:limit]


def lines(job):
    """Every stored line of `job`, (seq, text, ms) in order."""
    return [tuple(line) for line in read(job.pk)]


def texts(job):
    """The texts of every stored line of `job`, in order."""
    return [text for _, text, _ in read(job.pk)]


def count(job):
    """How many lines of `job` are stored (the clipped ones are not)."""
    return sum(LogChunk.objects.filter(job_id=job.pk).values_list("line_count", flat=True))


def store(job_id, lines):
    """Store finished `lines` (seq, text, ms) in full chunks: for imports and
    tests; a running job's writer uses an OpenChunk."""
    LogChunk.objects.bulk_create((chunk_row(job_id, run) for run in chunked(lines)), batch_size=100)


def iterate(job_id):
    """Every stored line [seq, text, ms] in order, a few chunks in memory at a time."""
    chunks = LogChunk.objects.filter(job_id=job_id).order_by("last_seq")
    for first_seq, first_ms, data in chunks.values_list("first_seq", "first_ms", "data").iterator(chunk_size=20):
        yield from decode(data, first_seq, first_ms)

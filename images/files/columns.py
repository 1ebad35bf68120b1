"""Columns stored as one blob: a magic, a count, then each column compressed on
its own (zlib), for the layer indexes and the checkpoints of stacked layers.

A column is `bytes` (BYTES), a list of byte strings without NUL (BYTE_STRINGS,
joined by NUL) or an `array` of numbers (its typecode), stored little-endian
whatever the machine.
"""

import struct
import sys
import zlib
from array import array

BYTES, BYTE_STRINGS = "bytes", "byte strings"


def pack(magic, count, columns, level=6):
    parts = [magic, struct.pack("<I", count)]
    for value in columns:
        if isinstance(value, list):
            raw = b"\0".join(value)
        elif isinstance(value, array):
            raw = _little_endian(value).tobytes()
        else:
            raw = bytes(value)
        packed = zlib.compress(raw, level)
        parts += [struct.pack("<Q", len(packed)), packed]
    return b"".join(parts)


def unpack(blob, magic, types):
    """(count, [column for each of `types`]); ValueError if `blob` is not one."""
    blob = bytes(blob)
    if not blob.startswith(magic):
        raise ValueError("Not the stored columns expected.")
    try:
        (count,) = struct.unpack_from("<I", blob, len(magic))
        at = len(magic) + 4
        columns = []
        for kind in types:
            (length,) = struct.unpack_from("<Q", blob, at)
            raw = zlib.decompress(blob[at + 8:at + 8 + length])
            at += 8 + length
            if kind == BYTE_STRINGS:
                # An empty blob is no strings for an empty set of columns, one empty string otherwise.
                columns.append(raw.split(b"\0") if raw or count else [])
            elif kind == BYTES:
                columns.append(raw)
            else:
                numbers = array(kind)
                numbers.frombytes(raw)
                columns.append(_little_endian(numbers))
    except (struct.error, zlib.error) as exc:
        raise ValueError(f"Stored columns are damaged: {exc}") from exc
    return count, columns


def _little_endian(numbers):
    if sys.byteorder == "big":
        numbers = array(numbers.typecode, numbers)
        numbers.byteswap()
    return numbers

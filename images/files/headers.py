"""Tar member headers read from a stream of blocks as they pass, contents skipped.

`tarfile` reads a whole PAX header or GNU long name into memory, however large
the member says it is, and copies each skipped block through three layers of
file objects; a save stream of a gigabyte and a million members wants neither.
This reader keeps one block of the stream at a time, caps every header it
holds, and skips a content by moving past it.
"""

import re
import struct
import zlib
from dataclasses import dataclass

BLOCK = 512
_PAX_RECORD = re.compile(rb"(\d+) ")


class DamagedArchive(ValueError):
    """The bytes are not a tar archive, or it ends before it says it does."""


class ByteStream:
    """Bytes from an iterator of blocks (the engine's response body), read in
    exact sizes or skipped. `position` counts every byte consumed."""

    def __init__(self, blocks):
        self._blocks = iter(blocks)
        self._block = b""
        self._at = 0
        self.position = 0

    def _next_block(self):
        for block in self._blocks:
            if block:
                self._block, self._at = block, 0
                return True
        return False

    def read(self, size):
        end = self._at + size
        if end <= len(self._block):
            data = self._block[self._at:end]
            self._at = end
            self.position += size
            return data
        parts = [self._block[self._at:]]
        needed = size - len(parts[0])
        while needed:
            if not self._next_block():
                raise DamagedArchive(f"The archive ended {needed:,} bytes early.")
            part = self._block[:needed]
            self._at = len(part)
            parts.append(part)
            needed -= len(part)
        self.position += size
        return b"".join(parts)

    def skip(self, size):
        self.position += size
        left = len(self._block) - self._at
        while size > left:
            size -= left
            if not self._next_block():
                self.position -= size
                raise DamagedArchive(f"The archive ended {size:,} bytes early.")
            left = len(self._block)
        self._at += size

    def unread(self, data):
        """Put back bytes just read, to be read again."""
        self._block = data + self._block[self._at:]
        self._at = 0
        self.position -= len(data)

    def at_end(self):
        return self._at >= len(self._block) and not self._next_block()


class RecordedStream(ByteStream):
    """A tar known from a record of it rather than its bytes: an iterator of
    bytes (headers and padding, as they are) and of ints (a content of that
    many bytes, not at hand), as `images.engine.layer_records.tar_pieces` reads
    an engine's tar-split. `members` only ever skips contents, and skipping one
    costs nothing; reading into one is a damaged archive."""

    def __init__(self, pieces):
        super().__init__(())
        self._pieces = iter(pieces)

    def _next_block(self):
        for piece in self._pieces:
            if isinstance(piece, int):
                if piece:
                    raise DamagedArchive("A header was expected where the record holds a file's content.")
                continue
            if piece:
                self._block, self._at = piece, 0
                return True
        return False

    def skip(self, size):
        self.position += size
        while size:
            left = len(self._block) - self._at
            if left:
                taken = min(left, size)
                self._at += taken
                size -= taken
                continue
            piece = next(self._pieces, None)
            if piece is None:
                self.position -= size
                raise DamagedArchive(f"The archive ended {size:,} bytes early.")
            if isinstance(piece, int):
                if piece > size:
                    raise DamagedArchive("A file's content in the record runs past its member.")
                size -= piece
            else:
                self._block, self._at = piece, 0

    def rest(self):
        """Bytes of the archive after what was consumed (its end marker and
        padding), counted to the end of the record."""
        rest = len(self._block) - self._at
        self._block, self._at = b"", 0
        for piece in self._pieces:
            rest += piece if isinstance(piece, int) else len(piece)
        return rest


@dataclass(slots=True)
class Member:
    name: bytes
    type: bytes  # the tar typeflag: b"0" a file, b"5" a directory, ...
    size: int  # bytes of content that follow in the archive
    mode: int
    uid: int
    gid: int
    mtime: int
    linkname: bytes
    start: int  # stream position of the content
    oversized: bool = False  # a PAX header or long name past the cap: name and link are cut

    @property
    def end(self):
        return self.start + _padded(self.size)


def _padded(size):
    return (size + BLOCK - 1) // BLOCK * BLOCK


def _number(field):
    """A numeric header field: octal digits (ended by NUL or space), or GNU's
    base-256 with the top bit set."""
    if field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        return value - (1 << (8 * len(field) - 8)) if field[0] == 0xFF else value
    digits = field.split(b"\0", 1)[0]
    return int(digits, 8) if digits.strip() else 0


def _text(field):
    return field.split(b"\0", 1)[0]


def _pax_records(data):
    """The key=value records of a PAX extended header (each "len key=value\\n")."""
    records, at = {}, 0
    while at < len(data):
        match = _PAX_RECORD.match(data, at)
        if match is None:
            break
        length = int(match[1])
        if length <= 0:
            break
        record = data[match.end():at + length - 1]  # without the "\n"
        key, _, value = record.partition(b"=")
        records[key] = value
        at += length
    return records


# name, mode, uid, gid, size, mtime, checksum, type, linkname, magic, prefix (ustar)
_HEADER = struct.Struct("100s8s8s8s12s12s8s1s100s6s2x32x32x8x8x155s12x")


def members(stream, end=None, max_header=1 << 20):
    """Yield each member of a tar archive read from `stream`, stopping at its end
    marker (or where `end`, a stream position, says the archive must stop).
    Between two members the stream is moved past the content, so the caller
    may read a member's content or leave it: what is left is skipped.

    PAX headers and GNU long names longer than `max_header` are skipped, and
    the member they describe comes with its plain header's name and
    `oversized` set."""
    pax, long_name, long_link, oversized = {}, None, None, False
    unpack = _HEADER.unpack
    while True:
        # Some writers stop after the last member, without the end marker.
        if end is None and stream.at_end() or end is not None and stream.position == end:
            if pax or long_name is not None or long_link is not None:
                raise DamagedArchive("The archive ends after a header that describes no member.")
            return
        if end is not None and stream.position + BLOCK > end:
            raise DamagedArchive("A layer ends inside one of its headers.")
        header = stream.read(BLOCK)
        if header.count(0) == BLOCK:
            return
        name, mode, uid, gid, size, mtime, checksum, type_flag, linkname, magic, prefix = unpack(header)
        try:
            # The checksum is the sum of the header's bytes (its own field read as
            # spaces). Python's sum() takes 11 µs a header; adler32's low half is
            # that sum plus one, modulo 65521, which catches a damaged header as well.
            if ((zlib.adler32(header) & 0xFFFF) - 1 - sum(checksum) + 256 - _number(checksum)) % 65521:
                raise ValueError
            size = _number(size)
        except ValueError:
            raise DamagedArchive(f"A tar header at byte {stream.position - BLOCK:,} is damaged.") from None
        if size < 0 or end is not None and stream.position + _padded(size) > end:
            raise DamagedArchive("A tar member claims more bytes than its archive holds.")
        if type_flag in _EXTENSIONS:
            if size > max_header:
                stream.skip(_padded(size))
                oversized = True
                continue
            data = stream.read(size)
            stream.skip(_padded(size) - size)
            if type_flag == b"x":
                pax.update(_pax_records(data))
            elif type_flag == b"L":
                long_name = _text(data)
            elif type_flag == b"K":
                long_link = _text(data)
            continue  # a global header ("g") sets nothing Dockyard reads
        if long_name is not None:
            name = long_name
        else:
            name = _text(name)
            if magic == b"ustar\x00":
                prefix = _text(prefix)
                if prefix:
                    name = prefix + b"/" + name
        try:
            member = Member(name, type_flag, size, _number(mode), _number(uid), _number(gid), _number(mtime),
                            long_link if long_link is not None else _text(linkname), stream.position, oversized)
        except ValueError:
            raise DamagedArchive(f"A tar header at byte {stream.position - BLOCK:,} is damaged.") from None
        if pax:
            _apply_pax(member, pax)
            if end is not None and member.start + _padded(member.size) > end:
                raise DamagedArchive("A tar member claims more bytes than its archive holds.")
            pax = {}
        long_name = long_link = None
        oversized = False
        yield member
        left = member.start + _padded(member.size) - stream.position
        if left:
            if left < 0:
                raise DamagedArchive("A member's content was read past its end.")
            stream.skip(left)


_EXTENSIONS = frozenset((b"x", b"L", b"K", b"g"))


def _apply_pax(member, pax):
    if b"path" in pax:
        member.name = pax[b"path"]
    if b"linkpath" in pax:
        member.linkname = pax[b"linkpath"]
    for key, attribute in ((b"size", "size"), (b"uid", "uid"), (b"gid", "gid"), (b"mtime", "mtime")):
        if key in pax:
            try:
                setattr(member, attribute, int(float(pax[key])) if key == b"mtime" else int(pax[key]))
            except ValueError:
                raise DamagedArchive(f"A PAX header's {key.decode()} is not a number.") from None
    if member.size < 0:
        raise DamagedArchive("A PAX header gives a negative size.")

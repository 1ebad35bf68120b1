"""One layer's entries as Dockyard stores them: what each tar member says (path,
kind, size, mode, owner, modification time, link target), in columns, each
compressed on its own. A 100,000-file layer takes one to two megabytes.

Paths are bytes, as the layer holds them: a name need not be UTF-8. They reach
pages and JSON through `display`, which escapes what is not printable UTF-8
and is undone by `parse_display` (paths in links and API parameters).
"""

from array import array
from dataclasses import dataclass

from images.files import columns as stored

FILE, DIRECTORY, SYMLINK, HARDLINK, CHARACTER, BLOCK_DEVICE, FIFO = b"f", b"d", b"l", b"h", b"c", b"b", b"p"
WHITEOUT, OPAQUE = b"w", b"o"  # "path was removed", "the directory hides what lower layers put in it"
KIND_NAMES = {FILE: "file", DIRECTORY: "directory", SYMLINK: "symlink", HARDLINK: "hard link",
              CHARACTER: "character device", BLOCK_DEVICE: "block device", FIFO: "fifo",
              WHITEOUT: "whiteout", OPAQUE: "opaque directory marker"}
_KIND_OF_TYPE = {b"0": FILE, b"\0": FILE, b"": FILE, b"7": FILE, b"1": HARDLINK, b"2": SYMLINK, b"3": CHARACTER,
                 b"4": BLOCK_DEVICE, b"5": DIRECTORY, b"6": FIFO}
WHITEOUT_PREFIX = b".wh."
OPAQUE_MARKER = b".wh..wh..opq"

_SLASH_OR_DOT = b"/."
_MAGIC = b"DYLI\x01"
_COLUMNS = ("kinds", "sizes", "mtimes", "modes", "uids", "gids", "paths", "links")
_COLUMN_TYPES = (stored.BYTES, "q", "q", "I", "I", "I", stored.BYTE_STRINGS, stored.BYTE_STRINGS)
_UINT_MAX = 2**32 - 1


def normalise(name):
    """A member name as a path relative to the root ("usr/bin/env"), or None
    for the root itself and for names that climb out of it ("../x")."""
    path = name.rstrip(b"/")
    if path and path[0] not in _SLASH_OR_DOT and b"/." not in path and b"//" not in path:
        return path  # what every engine writes: "usr/bin/env", "usr/bin/"
    parts = [part for part in name.split(b"/") if part and part != b"."]
    if not parts or b".." in parts:
        return None
    return b"/".join(parts)


def kind_of(type_flag):
    return _KIND_OF_TYPE.get(type_flag, FILE)


def split_whiteout(path):
    """(kind, path) for a whiteout name: `d/.wh.x` removes `d/x`, and
    `d/.wh..wh..opq` makes `d` opaque. Other names come back as (None, path);
    AUFS's own `.wh..wh.` files as (None, None), to be left out."""
    folder, _, base = path.rpartition(b"/")
    if not base.startswith(WHITEOUT_PREFIX):
        return None, path
    if base == OPAQUE_MARKER:
        return (OPAQUE, folder) if folder else (OPAQUE, b"")
    if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
        return None, None
    removed = base[len(WHITEOUT_PREFIX):]
    return WHITEOUT, (folder + b"/" + removed if folder else removed)


# Display -----------------------------------------------------------------------

def display(path):
    """Bytes as text that shows every byte: printable UTF-8 as is, a backslash
    doubled, anything else (invalid UTF-8, control characters) as \\xNN."""
    text = path.decode("utf-8", "surrogateescape")
    if text.isprintable() and "\\" not in text and all(ord(char) < 0xDC80 or ord(char) > 0xDCFF for char in text):
        return text
    out = []
    for char in text:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif not char.isprintable() and code < 0x100:
            out.append(f"\\x{code:02x}")
        elif not char.isprintable():
            out.append("".join(f"\\x{byte:02x}" for byte in char.encode("utf-8")))
        else:
            out.append(char)
    return "".join(out)


def parse_display(text):
    """The bytes `display` showed as `text`."""
    if "\\" not in text:
        return text.encode("utf-8", "surrogateescape")
    out, at = bytearray(), 0
    while at < len(text):
        char = text[at]
        if char == "\\" and text[at + 1:at + 2] == "\\":
            out += b"\\"
            at += 2
        elif char == "\\" and text[at + 1:at + 2] == "x" and _is_hex(text[at + 2:at + 4]):
            out.append(int(text[at + 2:at + 4], 16))
            at += 4
        else:
            out += char.encode("utf-8", "surrogateescape")
            at += 1
    return bytes(out)


def _is_hex(text):
    return len(text) == 2 and all(char in "0123456789abcdefABCDEF" for char in text)


# Stored columns ----------------------------------------------------------------

@dataclass
class LayerEntries:
    """A layer's entries in tar order, as parallel columns."""

    kinds: bytes
    sizes: array
    mtimes: array
    modes: array
    uids: array
    gids: array
    paths: list
    links: list

    def __len__(self):
        return len(self.kinds)

    def kind(self, index):
        return self.kinds[index:index + 1]

    def encode(self):
        return stored.pack(_MAGIC, len(self), [getattr(self, column) for column in _COLUMNS])

    @classmethod
    def decode(cls, blob):
        try:
            count, values = stored.unpack(blob, _MAGIC, _COLUMN_TYPES)
        except ValueError as exc:
            raise ValueError(f"Not a layer index: {exc}") from exc
        entries = cls(**dict(zip(_COLUMNS, values)))
        if any(len(value) != count for value in values):
            raise ValueError("A layer index's columns disagree on its length.")
        return entries


class EntryWriter:
    """Collects a layer's entries as its tar passes, within the caps: at most
    `max_files` entries and paths of at most `max_path` bytes. What the caps
    leave out is counted, so the page can say so."""

    def __init__(self, max_files, max_path):
        self.max_files = max_files
        self.max_path = max_path
        self.kinds = bytearray()
        self.sizes, self.mtimes = array("q"), array("q")
        self.modes, self.uids, self.gids = array("I"), array("I"), array("I")
        self.paths, self.links = [], []
        self.total_size = 0
        self.truncated = False  # the layer held more than max_files entries
        self.long_paths = 0  # entries whose path or link is over max_path bytes
        self.unsafe = 0  # names that climb out of the root, or hold a NUL

    def add(self, member):
        """Record one tar member; return False once the layer is over max_files
        (the member is not recorded, and the rest need not be read)."""
        if len(self.kinds) >= self.max_files:
            self.truncated = True
            return False
        path = normalise(member.name)
        if member.oversized or path is not None and len(path) > self.max_path or len(member.linkname) > self.max_path:
            self.long_paths += 1
            return True
        if path is None or b"\0" in member.name:
            if path is None and member.name.strip(b"./"):
                self.unsafe += 1
            return True
        whiteout, path = split_whiteout(path)
        if path is None:
            return True
        kind = whiteout or kind_of(member.type)
        link = member.linkname
        if kind == HARDLINK:
            link = normalise(link) or b""
        size = member.size if kind == FILE else 0
        self.kinds += kind
        self.sizes.append(size)
        self.mtimes.append(member.mtime)
        self.modes.append(member.mode & 0o7777)
        self.uids.append(min(max(member.uid, 0), _UINT_MAX))
        self.gids.append(min(max(member.gid, 0), _UINT_MAX))
        self.paths.append(path)
        self.links.append(link if kind in (SYMLINK, HARDLINK) else b"")
        self.total_size += size
        return True

    def entries(self):
        return LayerEntries(bytes(self.kinds), self.sizes, self.mtimes, self.modes, self.uids, self.gids,
                            self.paths, self.links)

    def notes(self):
        """Sentences about what the caps left out, for the job log and the page."""
        notes = []
        if self.truncated:
            notes.append(f"The layer holds more than {self.max_files:,} entries: only the first "
                         f"{self.max_files:,} are indexed (DOCKYARD_INDEX_MAX_FILES).")
        if self.long_paths:
            notes.append(f"{self.long_paths:,} entries with a path or link target over {self.max_path:,} bytes "
                         "are not indexed (DOCKYARD_INDEX_MAX_PATH).")
        if self.unsafe:
            notes.append(f"{self.unsafe:,} entries whose names climb out of the root (..) are not indexed.")
        return notes

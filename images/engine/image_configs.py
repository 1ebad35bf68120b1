"""An image's config as the engine holds it: the JSON whose sha256 is the image
id, with the `history` whose `empty_layer` marks say which steps made no layer.

Engine API 1.41 hands it out in no call but `docker save` (`<id>.json` in the
tar): inspect has the rootfs without the history, and the history call drops
the marks. So it is read from the engine's own image store where the engine is
on this host and its data root readable (`image/<driver>/imagedb/content/
sha256/<id>`), else from a save stream, which is closed as soon as the config
has passed. Either way the bytes must hash to the image id.
"""

import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

_HEX = re.compile(r"[0-9a-f]{64}")
_DRIVER = re.compile(r"[a-z0-9_-]{1,64}")
_CONFIG_MAX = 16 * 1024 * 1024  # the engine's own are a few kB


def from_data_root(data_root, driver, image_id):
    """The config from the engine's image store, or None."""
    hex_id = image_id.split(":", 1)[-1]
    if not _HEX.fullmatch(hex_id) or not _DRIVER.fullmatch(driver or ""):
        return None
    path = Path(data_root) / "image" / driver / "imagedb" / "content" / "sha256" / hex_id
    try:
        with path.open("rb") as file:
            return _checked(file.read(_CONFIG_MAX), hex_id)
    except OSError:
        return None


def from_save_stream(chunks, image_id):
    """The config from a `docker save` stream (an iterator of byte blocks), or
    None; the stream is closed once the config is read."""
    hex_id = image_id.split(":", 1)[-1]
    try:
        with tarfile.open(fileobj=_Blocks(chunks), mode="r|") as tar:
            for member in tar:
                if member.name == f"{hex_id}.json" and member.isfile() and member.size <= _CONFIG_MAX:
                    return _checked(tar.extractfile(member).read(), hex_id)
    except tarfile.TarError:
        return None
    finally:
        chunks.close()
    return None


def _checked(data, hex_id):
    if hashlib.sha256(data).hexdigest() != hex_id:
        return None
    try:
        config = json.loads(data)
    except ValueError:
        return None
    return config if isinstance(config, dict) else None


class _Blocks(io.RawIOBase):
    """A file over an iterator of byte blocks, for tarfile's stream mode."""

    def __init__(self, blocks):
        self._blocks = iter(blocks)
        self._block = memoryview(b"")
        self._at = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        while self._at >= len(self._block):
            block = next(self._blocks, b"")
            if not block:
                return 0
            self._block, self._at = memoryview(block), 0
        size = min(len(buffer), len(self._block) - self._at)
        buffer[:size] = self._block[self._at:self._at + size]
        self._at += size
        return size

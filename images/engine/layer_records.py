"""A local engine's own records of its layers' tar headers, read from its data
root instead of a `docker save` stream.

The Engine API has no call for one layer: `docker save` sends every layer of
an image, so indexing an image that adds one small layer to a big, indexed
base took as long as indexing the base. But an engine keeps, for each layer,
the "tar-split" of the tar it was made from (`image/<driver>/layerdb/sha256/
<chain id>/tar-split.json.gz`: the tar's headers and padding verbatim, and for
each file only its size), from which it rebuilds that exact tar for a save.
Read here, it gives the same headers in the same order as the save stream, at
the cost of a few kilobytes a thousand files and no file content.

The record's `diff` file must hold the layer's diff id, so a record is used
only where the engine's layer database says it is that layer; anything else
(an engine on another host, a record missing or unreadable, Dockyard not
allowed to read the data root) answers None, and the caller reads the save
stream.
"""

import base64
import gzip
import json
import re
from pathlib import Path

from images import refs

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_DRIVER = re.compile(r"[a-z0-9_-]{1,64}")
_SEGMENT, _FILE = 2, 1


def tar_split_files(data_root, driver, diff_ids):
    """The tar-split record of each layer, in order, or None unless the layer
    database has one for every layer and agrees on its diff id."""
    if not _DRIVER.fullmatch(driver or ""):
        return None
    layerdb = Path(data_root) / "image" / driver / "layerdb" / "sha256"
    found = []
    for diff_id, chain_id in zip(diff_ids, refs.chain_ids(diff_ids)):
        if not _DIGEST.fullmatch(diff_id):
            return None
        record = layerdb / chain_id.split(":", 1)[1]
        try:
            if (record / "diff").read_text().strip() != diff_id:
                return None
        except OSError:
            return None
        path = record / "tar-split.json.gz"
        if not path.is_file():
            return None
        found.append(path)
    return found


def tar_pieces(path):
    """The layer's tar as the record holds it: its headers and padding as bytes,
    each file's content as the number of bytes it takes. Read a line at a time."""
    with gzip.open(path, "rb") as lines:
        for line in lines:
            entry = json.loads(line)
            if entry.get("type") == _SEGMENT:
                yield base64.b64decode(entry.get("payload") or "")
            elif entry.get("type") == _FILE:
                yield int(entry.get("size") or 0)

"""What the pages and the API ask of an image's file index: whether it is
indexed (or being indexed), its layers, one directory as a layer leaves it, a
path search, wasted space.

Layers are numbered from 1, the base layer, as the page shows them. An image's
stacked filesystem is built on first use and kept in this process for the
next requests (a directory is then a lookup), the least recently used going
once the kept ones hold more than DOCKYARD_INDEX_MAX_FILES paths (at ~400
bytes a path, 120 MB a web process by default).
"""

import stat
import threading
from urllib.parse import quote
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.http import Http404

from images.catalog.history import clean_created_by
from images.files import entries as kinds
from images.files.entries import display, parse_display
from images.files.filesystem import ImageFiles, ROOT, UNCHANGED
from images.files.indexing import load_layers
from images.models import ImageIndex, Job, LayerIndex
from images.sizes import human_size

PAGE = 500  # entries of one directory a request
SEARCH_LIMIT = 200

_MODE_TYPE = {kinds.DIRECTORY: stat.S_IFDIR, kinds.SYMLINK: stat.S_IFLNK, kinds.CHARACTER: stat.S_IFCHR,
              kinds.BLOCK_DEVICE: stat.S_IFBLK, kinds.FIFO: stat.S_IFIFO}


class NotIndexed(Http404):
    pass


@dataclass
class Status:
    index: ImageIndex | None
    job: Job | None  # an index job queued or running
    failed: Job | None  # the last index job, if it failed and nothing is indexed


def status(image_id):
    index = ImageIndex.objects.filter(image_id=image_id).first()
    jobs = Job.objects.filter(kind=Job.Kind.INDEX, params__image_id=image_id)
    job = jobs.filter(state__in=(Job.State.QUEUED, Job.State.RUNNING)).first()
    last = jobs.first() if index is None and job is None else None
    return Status(index, job, last if last is not None and last.state != Job.State.SUCCEEDED else None)


def index_for(image_id):
    index = ImageIndex.objects.filter(image_id=image_id).first()
    if index is None:
        raise NotIndexed("This image's files are not indexed yet.")
    return index


@dataclass
class LayerRow:
    number: int
    diff_id: str
    instruction: object  # images.catalog.history.Instruction
    created: str
    entry_count: int
    size: int
    notes: list

    @property
    def short_id(self):
        return self.diff_id.split(":")[-1][:12]


def layers(index):
    stored = {row["diff_id"]: row for row in LayerIndex.objects.filter(diff_id__in=index.diff_ids)
              .values("diff_id", "entry_count", "total_size", "notes")}
    rows = []
    for number, diff_id in enumerate(index.diff_ids, 1):
        made = index.layers[number - 1] if number - 1 < len(index.layers) else {}
        layer = stored.get(diff_id, {})
        rows.append(LayerRow(number, diff_id, clean_created_by(made.get("created_by")), made.get("created", ""),
                             layer.get("entry_count", 0), layer.get("total_size", 0), layer.get("notes", [])))
    return rows


# The stacked filesystems kept in this process -------------------------------------

_kept = OrderedDict()
_kept_lock = threading.Lock()


def files_of(index):
    key = (index.image_id, index.indexed_at.isoformat())
    with _kept_lock:
        files = _kept.get(key)
        if files is not None:
            _kept.move_to_end(key)
            return files
    files = ImageFiles(load_layers(index.diff_ids))
    with _kept_lock:
        _kept[key] = files
        budget = settings.DOCKYARD_INDEX_MAX_FILES
        while len(_kept) > 1 and sum(len(each) for each in _kept.values()) > budget:
            _kept.popitem(last=False)
    return files


# One directory --------------------------------------------------------------------

@dataclass
class Entry:
    """A node as pages and the API show it: every name escaped by `display`."""

    name: str
    path: str  # "/usr/bin"
    kind: str
    is_dir: bool
    size: int
    mode: str  # "drwxr-xr-x"
    octal_mode: str  # "0755"
    uid: int | None
    gid: int | None
    mtime: int | None
    link: str
    mark: str
    changes_below: bool
    from_layer: int

    @property
    def owner(self):
        return "" if self.uid is None else f"{self.uid}:{self.gid}"

    # What a page row shows, worked out here: a template's tags and filters cost
    # more than the rest of a 500-entry directory together.
    @property
    def quoted_path(self):
        return quote(self.path, safe="/")

    @property
    def size_text(self):
        return human_size(self.size)

    @property
    def mark_text(self):
        return self.mark if self.mark != UNCHANGED else "changes inside" if self.changes_below else ""

    @property
    def css_class(self):
        return f"tree-node mark-{self.mark}" + (" changes-below" if self.changes_below else "")


def _entry(node):
    type_bits = _MODE_TYPE.get(node.kind, stat.S_IFREG)
    return Entry(
        name=display(node.name), path="/" + display(node.path), kind=kinds.KIND_NAMES.get(node.kind, "file"),
        is_dir=node.kind == kinds.DIRECTORY, size=node.size,
        mode=stat.filemode(type_bits | (node.mode or 0)) if node.mode is not None else "",
        octal_mode=f"{node.mode:04o}" if node.mode is not None else "",
        uid=node.uid, gid=node.gid, mtime=node.mtime,
        link=("/" if node.kind == kinds.HARDLINK else "") + display(node.link) if node.link else "",
        mark=node.mark, changes_below=node.changes_below, from_layer=node.layer + 1)


@dataclass
class Directory:
    layer: int
    path: str
    entries: list
    total: int  # entries in the directory (with the filter), of which `entries` is a page
    offset: int
    changed_only: bool
    size: int
    focus: str = ""  # the name of the entry a link pointed at

    @property
    def more(self):
        return max(self.total - self.offset - len(self.entries), 0)

    @property
    def next_offset(self):
        return self.offset + len(self.entries)

    @property
    def crumbs(self):
        """(name, path) from the root down to this directory."""
        parts = [part for part in self.path.split("/") if part]
        return [("/", "/")] + [(part, "/" + "/".join(parts[:at + 1])) for at, part in enumerate(parts)]


def parse_layer(text, index):
    """A layer number from a request (1 to the image's count; empty: the top one)."""
    count = len(index.diff_ids)
    if text in (None, ""):
        return count
    try:
        number = int(text)
    except (TypeError, ValueError):
        raise Http404("The layer is a number.") from None
    if not 1 <= number <= count:
        raise Http404(f"This image has layers 1 to {count}.")
    return number


def path_bytes(text):
    """A path from a request ("/usr/lib", escaped as pages show it) as stored."""
    return parse_display((text or "").strip("/"))


def directory(index, layer, path, changed_only=False, offset=0, limit=PAGE, focus=""):
    """One directory after `layer`; with `focus` (an entry's name), the page of
    entries that holds it."""
    files = files_of(index)
    wanted = path_bytes(path)
    pid = files.lookup(wanted) if wanted else ROOT
    number = layer - 1
    if pid is None or not files.is_dir(pid, number) and not files.is_dir(pid, number - 1):
        raise Http404(f"There is no directory /{display(wanted)} after layer {layer}.")
    nodes = files.listing(number, pid, changed_only)
    if focus:
        at = next((at for at, node in enumerate(nodes) if display(node.name) == focus), 0)
        offset = at - at % limit
    offset = max(offset, 0)
    return Directory(layer, "/" + display(wanted) if wanted else "/", [_entry(node) for node in nodes[offset:offset + limit]],
                     len(nodes), offset, changed_only, files.dir_size(pid, number), focus)


def open_at(index, path):
    """Where the explorer opens a path (as pages spell it, "/root/saved.txt"):
    (layer, directory, name of the entry pointed at). A directory opens itself,
    anything else the directory holding it; after the image's last layer if the
    path is still there, else after the last layer that had it."""
    files = files_of(index)
    wanted = path_bytes(path)
    last = len(files.layers) - 1
    if not wanted:
        return last + 1, "/", ""
    pid = files.lookup(wanted)
    had = [number for number, there in files.history_of(pid) if there] if pid is not None else []
    if pid is not None and files.exists(pid, last):
        number = last
    elif had:
        number = had[-1]
    else:
        raise Http404(f"No layer of this image has /{display(wanted)}.")
    if files.is_dir(pid, number):
        return number + 1, "/" + display(wanted), ""
    parent, _, name = wanted.rpartition(b"/")
    return number + 1, "/" + display(parent) if parent else "/", display(name)


# Search ---------------------------------------------------------------------------

@dataclass
class Hit:
    path: str
    is_dir: bool
    present: bool  # in the finished image
    changes: list  # [(layer, "added" | "modified" | "removed")]


def search(index, text, limit=SEARCH_LIMIT):
    """Paths holding `text` in any layer of the image, with what each layer did
    to them; and whether there were more than `limit`."""
    files = files_of(index)
    needle = parse_display(text.strip())
    if not needle:
        return [], False
    last = len(files.layers) - 1
    found, more = files.search(needle, limit)
    hits = []
    for pid in found:
        changes, before = [], False
        for number, present in files.history_of(pid):
            changes.append((number + 1, "removed" if not present else "modified" if before else "added"))
            before = present
        hits.append(Hit("/" + display(files.paths[pid]), files.is_dir(pid, last) or files.is_dir(pid, last - 1),
                        files.exists(pid, last), changes))
    return hits, more


# Wasted space ---------------------------------------------------------------------

@dataclass
class Waste:
    efficiency: float
    wasted_bytes: int
    wasted_share: float
    user_size: int
    inefficient_paths: int
    wasters: list  # [{"path", "size", "layers" (numbered from 1)}]


def waste(index):
    """The index's wasted space, its wasters' paths spelled as every other path
    here ("/root/saved.txt"; the summary keeps dive's spelling, "root/saved.txt")."""
    summary = index.summary
    return Waste(summary["efficiency"], summary["wasted_bytes"], summary["wasted_share"], summary["user_size"],
                 summary["inefficient_paths"],
                 [{**waster, "path": "/" + waster["path"], "layers": [number + 1 for number in waster["layers"]]}
                  for waster in summary["wasters"]])

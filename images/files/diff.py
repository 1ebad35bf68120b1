"""What changed between two images: their configuration, their layers (the
shared base, then each side's own), and their finished filesystems."""

import heapq
from dataclasses import dataclass

from images.catalog import detail, inspect
from images.catalog.history import clean_created_by
from images.files import entries as kinds
from images.files import explorer, history
from images.files.entries import display
from images.models import ImageIndex, Job, LayerIndex

FILE_LIMIT = 1000  # rows shown; the totals count them all

ADDED, REMOVED, CHANGED = "added", "removed", "changed"


@dataclass
class ConfigChange:
    field: str
    key: str  # the variable, label, port or volume; "" for single values
    a: str
    b: str
    change: str


@dataclass
class LayerRow:
    number: int  # from 1, on its own side
    diff_id: str
    instruction: object
    size: int

    @property
    def short_id(self):
        return self.diff_id.split(":")[-1][:12]


@dataclass
class FileChange:
    path: str
    change: str
    kind: str
    a: dict | None
    b: dict | None
    size_change: int
    what: list  # what differs: "size", "mode", ...


@dataclass
class Comparison:
    a: inspect.ImageSummary
    b: inspect.ImageSummary
    config: list
    shared: list
    a_layers: list
    b_layers: list
    files: list | None  # None until both images are indexed
    file_totals: dict | None
    not_indexed: list  # the summaries of the sides whose files are not indexed
    filter: str


def compare(engine, a_reference, b_reference, path_filter="", limit=FILE_LIMIT):
    detail.check_reference(a_reference)
    detail.check_reference(b_reference)
    a_data, b_data = engine.inspect_image(a_reference), engine.inspect_image(b_reference)
    a, b = inspect.summarize(a_data), inspect.summarize(b_data)
    indexes = {index.image_id: index for index in ImageIndex.objects.filter(image_id__in=[a.id, b.id])}
    a_rows = _layers(engine, a_data, indexes.get(a.id))
    b_rows = _layers(engine, b_data, indexes.get(b.id))
    shared = 0
    while shared < min(len(a_rows), len(b_rows)) and a_rows[shared].diff_id == b_rows[shared].diff_id:
        shared += 1
    files = totals = None
    not_indexed = [side for side in (a, b) if side.id not in indexes]
    if not not_indexed:
        files, totals = file_changes(explorer.files_of(indexes[a.id]).final_entries(),
                                     explorer.files_of(indexes[b.id]).final_entries(), path_filter, limit)
    return Comparison(a, b, config_changes(a, b), a_rows[:shared], a_rows[shared:], b_rows[shared:], files, totals,
                      not_indexed, path_filter)


def previous_build(job, scan=200):
    """(tag, job) of the last successful build before `job` that tagged the same
    first tag with another image, for "compare with the previous build". For a
    build still queued or running, the one it will be compared with if it makes
    another image (the page shows the link when it ends)."""
    tags = job.params.get("tags") or []
    if job.kind != Job.Kind.BUILD or not tags or (job.is_final and (job.state != Job.State.SUCCEEDED
                                                                     or not job.image_id)):
        return None
    tag = tags[0]
    earlier = (Job.objects.filter(kind=Job.Kind.BUILD, state=Job.State.SUCCEEDED, queued_at__lte=job.queued_at,
                                  target__contains=tag).exclude(pk=job.pk).exclude(image_id="")
               .order_by("-queued_at", "-pk"))
    if job.image_id:
        earlier = earlier.exclude(image_id=job.image_id)
    earlier = earlier[:scan]
    for candidate in earlier:
        if (candidate.params.get("tags") or [None])[0] == tag:
            return tag, candidate
    return None


# Configuration --------------------------------------------------------------------

def config_changes(a, b):
    changes = []
    for field, a_value, b_value in (
            ("platform", a.platform, b.platform),
            ("entrypoint", _argv(a.entrypoint), _argv(b.entrypoint)),
            ("cmd", _argv(a.cmd), _argv(b.cmd)),
            ("workdir", a.workdir, b.workdir),
            ("user", a.user, b.user)):
        if a_value != b_value:
            changes.append(ConfigChange(field, "", a_value, b_value, _change(a_value, b_value)))
    for field, a_map, b_map in (
            ("env", _env(a.env), _env(b.env)),
            ("labels", a.labels, b.labels),
            ("exposed ports", dict.fromkeys(a.exposed_ports, ""), dict.fromkeys(b.exposed_ports, "")),
            ("volumes", dict.fromkeys(a.volumes, ""), dict.fromkeys(b.volumes, ""))):
        for key in sorted(set(a_map) | set(b_map)):
            if key not in b_map:
                changes.append(ConfigChange(field, key, a_map[key], "", REMOVED))
            elif key not in a_map:
                changes.append(ConfigChange(field, key, "", b_map[key], ADDED))
            elif a_map[key] != b_map[key]:
                changes.append(ConfigChange(field, key, a_map[key], b_map[key], CHANGED))
    return changes


def _argv(argv):
    return " ".join(argv) if argv else ""


def _env(variables):
    found = {}
    for variable in variables:
        name, _, value = variable.partition("=")
        found[name] = value
    return found


def _change(a_value, b_value):
    return ADDED if not a_value else REMOVED if not b_value else CHANGED


# Layers ---------------------------------------------------------------------------

def _layers(engine, data, index):
    """The image's layers, base first, each with the step that made it: from
    its index when indexed, else read from the engine's history."""
    diff_ids = list((data.get("RootFS") or {}).get("Layers") or [])
    sizes = {row["diff_id"]: row["total_size"] for row in
             LayerIndex.objects.filter(diff_id__in=diff_ids).values("diff_id", "total_size")}
    made = index.layers if index is not None and len(index.layers) == len(diff_ids) else None
    engine_made = history.layer_history(engine.image_history(data["Id"]), engine.image_config(data["Id"]),
                                        len(diff_ids))
    rows = []
    for position, diff_id in enumerate(diff_ids):
        step = (made or engine_made or [{}] * len(diff_ids))[position]
        size = engine_made[position]["size"] if engine_made else sizes.get(diff_id, 0)
        rows.append(LayerRow(position + 1, diff_id, clean_created_by(step.get("created_by")), size))
    return rows


# Files ----------------------------------------------------------------------------

_FIELDS = ("kind", "size", "mode", "uid", "gid", "mtime", "link")


def file_changes(a_entries, b_entries, path_filter="", limit=FILE_LIMIT):
    """Every path added, removed or changed from `a` to `b` (ImageFiles.final_entries
    of each), largest size change first, at most `limit` of those holding
    `path_filter`; and the totals of all. A file changed when its kind, size,
    mtime, mode, owner or link differ (the headers are all a layer tar says of
    a content); a directory only for its kind, mode or owner, not the mtime any
    change inside gives it."""
    needle = explorer.path_bytes(path_filter) if path_filter.strip("/") else b""
    totals = {"added": 0, "removed": 0, "changed": 0, "added_bytes": 0, "removed_bytes": 0, "size_change": 0,
              "shown": 0, "matching": 0}
    matching = []
    a_paths, b_paths = a_entries.keys(), b_entries.keys()
    for path in a_paths - b_paths:
        size = a_entries[path][1]
        totals["removed"] += 1
        totals["removed_bytes"] += size
        if needle in path:
            matching.append((-size, path, REMOVED, a_entries[path], None, -size))
    for path in b_paths - a_paths:
        size = b_entries[path][1]
        totals["added"] += 1
        totals["added_bytes"] += size
        if needle in path:
            matching.append((-size, path, ADDED, None, b_entries[path], size))
    for path in a_paths & b_paths:
        a_entry, b_entry = a_entries[path], b_entries[path]
        if a_entry == b_entry or not _differs(a_entry, b_entry):
            continue
        change = b_entry[1] - a_entry[1]
        totals["changed"] += 1
        totals["size_change"] += change
        if needle in path:
            matching.append((-abs(change), path, CHANGED, a_entry, b_entry, change))
    totals["size_change"] += totals["added_bytes"] - totals["removed_bytes"]
    totals["matching"] = len(matching)
    shown = heapq.nsmallest(limit, matching)  # paths differ, so the entries are never compared
    totals["shown"] = len(shown)
    return [_file_change(path, change, a, b, size_change) for _, path, change, a, b, size_change in shown], totals


def _differs(a_entry, b_entry):
    if a_entry[0] != b_entry[0]:
        return True
    if a_entry[0] == kinds.DIRECTORY:
        return any(x is not None and y is not None and x != y for x, y in zip(a_entry[2:5], b_entry[2:5]))
    return a_entry[1:] != b_entry[1:]


def _side(entry):
    if entry is None:
        return None
    kind, size, mode, uid, gid, mtime, link = entry
    return {"kind": kinds.KIND_NAMES.get(kind, "file"), "size": size,
            "mode": f"{mode:04o}" if mode is not None else "", "uid": uid, "gid": gid, "mtime": mtime,
            "link": display(link)}


def _file_change(path, change, a_entry, b_entry, size_change):
    what = [] if change != CHANGED else [name for name, x, y in zip(_FIELDS, a_entry, b_entry) if x != y]
    kind = kinds.KIND_NAMES.get((b_entry or a_entry)[0], "file")
    return FileChange("/" + display(path), change, kind, _side(a_entry), _side(b_entry), size_change, what)

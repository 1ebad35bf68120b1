"""An image's filesystem as it stands after each of its layers, built once from
the layers' stored entries and then asked one directory at a time.

Layers are applied as the engine applies them (overlay semantics, the OCI
image spec's "Applying changesets"): a layer's whiteouts and opaque
directories remove what lower layers put there, then its entries are added; a
directory replaced by a file takes its whole subtree with it. Each path keeps a
timeline of what it was from one layer to the next, so any layer's view, and
what that layer changed, is a lookup rather than a replay.
"""

import gc
from array import array
from contextlib import contextmanager
from dataclasses import dataclass

from images.files import columns as stored
from images.files import entries as kinds
from images.files.waste import Efficiency

_ABSENT = 0xFFFFFFFF  # the path does not exist from this layer on
_IMPLICIT = 0xFFFFFFFE  # a directory the layer implies (it holds entries) without listing it
_REF = 0xFFFFFFFF
_NEVER = 2**64 - 1  # in a checkpoint: a path no layer so far has put in place
_CHECKPOINT_MAGIC = b"DYFC\x01"
_CHECKPOINT_TYPES = ("I", stored.BYTE_STRINGS, "i", "Q", "I", "q", *Efficiency.STATE_TYPES)
_NEEDS_WASTE = "A checkpoint carries the wasted space on: stack the layers with weigh_waste."
ROOT = 0

ADDED, MODIFIED, REMOVED, UNCHANGED = "added", "modified", "removed", "unchanged"


@dataclass
class Node:
    """One path as it is after a layer (or as it was, if that layer removed it)."""

    path: bytes
    name: bytes
    kind: bytes
    size: int  # a file's size; a directory's, everything below it
    mode: int | None
    uid: int | None
    gid: int | None
    mtime: int | None
    link: bytes
    mark: str  # ADDED, MODIFIED, REMOVED or UNCHANGED, by the layer asked about
    changes_below: bool  # a directory with something added, modified or removed inside it
    layer: int  # the layer its entry comes from

    @property
    def is_dir(self):
        return self.kind == kinds.DIRECTORY


class ImageFiles:
    """The layers (a list of `LayerEntries`, base first) stacked; with
    `weigh_waste`, dive's efficiency worked out on the way (a quarter of the
    time, needed once, when the image is indexed).

    With a `checkpoint` (from `checkpoint()` of the same first layers, stacked
    with `weigh_waste`), only the layers above it are applied: enough for the
    summary and the final filesystem, not for asking about the layers below
    (`layers_from_checkpoint` of them)."""

    def __init__(self, layers, weigh_waste=False, checkpoint=None):
        self.layers = layers
        self._final = None
        with _cycle_collector_paused():
            start = self._start(weigh_waste) if checkpoint is None else self._restore(checkpoint, weigh_waste)
            for number in range(start, len(layers)):
                self._apply(number, layers[number])

    def _start(self, weigh_waste):
        self.paths = [b""]
        # Arrays, not lists: an int object a path each would cost 28 bytes more.
        self.parents = array("i", [-1])
        self.depths = array("i", [0])
        self.events = [[_IMPLICIT]]  # the root exists from the first layer on
        self.children = {}
        self._ids = {b"": ROOT}
        self._dirs_now = {ROOT}  # the directories as the layers applied so far leave them
        self._size_now = {ROOT: 0}
        self._size_layers = {ROOT: [0]}
        self._size_values = {ROOT: [0]}
        self.changed_below = []  # per layer: the directories holding a change by it
        self.efficiency = Efficiency() if weigh_waste else None
        self.layer_sizes = []  # per layer: the sum of its entries' sizes
        self.layers_from_checkpoint = 0
        return 0

    def checkpoint(self):
        """The stacked layers as they stand now, for a later `ImageFiles` of
        these layers and more to start from (what it holds is the present, which
        a resumed stack knows as well as a whole one)."""
        if self.efficiency is None:
            raise ValueError(_NEEDS_WASTE)
        last = array("Q", (timeline[-1] if timeline else _NEVER for timeline in self.events))
        dirs = array("I", sorted(self._dirs_now))
        columns = [array("I", map(len, self.layers)), self.paths, array("i", self.parents), last, dirs,
                   array("q", (self._size_now.get(pid, 0) for pid in dirs)), *self.efficiency.state()]
        return stored.pack(_CHECKPOINT_MAGIC, len(self.paths), columns, level=1)

    def _restore(self, checkpoint, weigh_waste):
        if not weigh_waste:
            raise ValueError(_NEEDS_WASTE)
        count, columns = stored.unpack(checkpoint, _CHECKPOINT_MAGIC, _CHECKPOINT_TYPES)
        entry_counts, paths, parents, last, dirs, dir_sizes = columns[:6]
        below = len(entry_counts)
        if below > len(self.layers) or list(entry_counts) != [len(layer) for layer in self.layers[:below]]:
            raise ValueError("The checkpoint was made of other layers.")
        if not len(paths) == len(parents) == len(last) == count or len(dirs) != len(dir_sizes):
            raise ValueError("A checkpoint's columns disagree on their lengths.")
        self.paths = paths
        self.parents = parents
        self.depths = depths = array("i", [0]) * count
        self.children = children = {}
        for pid in range(1, count):
            parent = parents[pid]
            depths[pid] = depths[parent] + 1
            siblings = children.get(parent)
            if siblings is None:
                children[parent] = [pid]
            else:
                siblings.append(pid)
        self.events = [[event] if event != _NEVER else [] for event in last]
        self._ids = dict(zip(paths, range(count)))
        self._dirs_now = set(dirs)
        self._size_now = dict(zip(dirs, dir_sizes))
        top = below - 1
        self._size_layers = {pid: [top] for pid in dirs}
        self._size_values = {pid: [size] for pid, size in zip(dirs, dir_sizes)}
        self.changed_below = [set() for _ in range(below)]
        self.efficiency = Efficiency.restored(columns[6:])
        self.layer_sizes = [sum(layer.sizes) for layer in self.layers[:below]]
        self.layers_from_checkpoint = below
        return below

    # Building ------------------------------------------------------------------

    def _intern(self, path):
        pid = self._ids.get(path)
        if pid is not None:
            return pid
        parent_path = path.rpartition(b"/")[0]
        parent = self._ids.get(parent_path)
        if parent is None:  # a parent no layer listed: its own parents first, without recursion
            missing = [parent_path]
            while (up := missing[-1].rpartition(b"/")[0]) not in self._ids:
                missing.append(up)
            for each in reversed(missing):
                self._new_path(each, self._ids[each.rpartition(b"/")[0]])
            parent = self._ids[parent_path]
        return self._new_path(path, parent)

    def _new_path(self, path, parent):
        pid = len(self.paths)
        self._ids[path] = pid
        self.paths.append(path)
        self.parents.append(parent)
        self.depths.append(self.depths[parent] + 1)
        self.events.append([])
        siblings = self.children.get(parent)
        if siblings is None:
            self.children[parent] = [pid]
        else:
            siblings.append(pid)
        return pid

    def _apply(self, number, layer):
        layer_kinds = layer.kinds
        intern = self._intern
        pids = [intern(path) for path in layer.paths]
        self.layer_sizes.append(sum(layer.sizes))
        self._delta = {}
        self._touched = set()
        if self.efficiency is not None:
            # dive weighs a layer against the layers below it, so before it is applied.
            self.efficiency.add_layer(number, layer, pids, self)
        for index, pid in enumerate(pids):
            kind = layer_kinds[index:index + 1]
            if kind == kinds.WHITEOUT:
                self._remove(pid, number)
            elif kind == kinds.OPAQUE:
                for child in self.children.get(pid, ()):
                    self._remove(child, number)
        for index, pid in enumerate(pids):
            if layer_kinds[index:index + 1] not in (kinds.WHITEOUT, kinds.OPAQUE):
                self._add(pid, number, index)
        self._settle_sizes(number)
        self.changed_below.append(self._changed_dirs())
        del self._delta, self._touched

    def _set(self, pid, number, ref):
        timeline = self.events[pid]
        event = number << 32 | ref
        if timeline and timeline[-1] >> 32 == number:
            timeline[-1] = event  # a path removed and added again by one layer
        else:
            timeline.append(event)
        self._touched.add(pid)

    def present(self, pid):
        timeline = self.events[pid]
        return bool(timeline) and timeline[-1] & _REF != _ABSENT

    def size_now(self, pid):
        """The size of a present path, as the layers applied so far leave it."""
        if pid in self._dirs_now:
            return self._size_now.get(pid, 0)
        event = self.events[pid][-1]
        return self.layers[event >> 32].sizes[event & _REF]

    def is_dir_now(self, pid):
        return pid in self._dirs_now

    def _remove(self, pid, number):
        """Remove a path and everything below it."""
        if not self.present(pid):
            return
        parent = self.parents[pid]
        self._delta[parent] = self._delta.get(parent, 0) - self.size_now(pid)
        stack = [pid]
        while stack:
            each = stack.pop()
            if not self.present(each):
                continue
            if each in self._dirs_now:
                stack.extend(self.children.get(each, ()))
                self._dirs_now.discard(each)
                self._size_now[each] = 0
                self._delta.pop(each, None)
            self._set(each, number, _ABSENT)

    def _add(self, pid, number, index):
        layer = self.layers[number]
        kind = layer.kinds[index:index + 1]
        parent = self.parents[pid]
        delta = self._delta
        if parent not in self._dirs_now:
            self._add_implicit(parent, number)
        timeline = self.events[pid]
        if timeline and timeline[-1] & _REF != _ABSENT:
            if pid in self._dirs_now:
                if kind != kinds.DIRECTORY:
                    self._remove(pid, number)
            else:
                delta[parent] = delta.get(parent, 0) - self.size_now(pid)
        if kind == kinds.DIRECTORY:
            if pid not in self._dirs_now:
                self._dirs_now.add(pid)
                self._size_now[pid] = 0
                delta.pop(pid, None)
        elif layer.sizes[index]:
            delta[parent] = delta.get(parent, 0) + layer.sizes[index]
        self._set(pid, number, index)

    def _add_implicit(self, pid, number):
        """Make `pid` a directory for entries a layer puts below it without
        listing it, replacing a file in the way."""
        parent = self.parents[pid]
        if parent >= 0 and not self.is_dir_now(parent):
            self._add_implicit(parent, number)
        self._remove(pid, number)
        self._dirs_now.add(pid)
        self._size_now[pid] = 0
        self._delta.pop(pid, None)
        self._set(pid, number, _IMPLICIT)

    def _settle_sizes(self, number):
        """Carry this layer's size changes up to the root, deepest first."""
        pending = self._delta
        order = set(pending)
        for pid in list(pending):
            parent = self.parents[pid]
            while parent >= 0 and parent not in order:
                order.add(parent)
                parent = self.parents[parent]
        for pid in sorted(order, key=self.depths.__getitem__, reverse=True):
            delta = pending.pop(pid, 0)
            if not delta or not self.is_dir_now(pid):
                continue
            self._size_now[pid] = self._size_now.get(pid, 0) + delta
            parent = self.parents[pid]
            if parent >= 0:
                pending[parent] = pending.get(parent, 0) + delta
            self._record_size(pid, number)
        for pid in self._touched:
            if pid in self._size_now and self.is_dir_now(pid):
                self._record_size(pid, number)

    def _record_size(self, pid, number):
        layers = self._size_layers.setdefault(pid, [])
        values = self._size_values.setdefault(pid, [])
        if layers and layers[-1] == number:
            values[-1] = self._size_now[pid]
        else:
            layers.append(number)
            values.append(self._size_now[pid])

    def _changed_dirs(self):
        """The directories holding something this layer added, modified or
        removed (a directory merely listed again, for its new mtime, is none)."""
        changed = set()
        for pid in self._touched:
            timeline = self.events[pid]
            if len(timeline) >= 2 and timeline[-1] & _REF != _ABSENT and timeline[-2] & _REF != _ABSENT \
                    and not self._entry_changed(timeline[-2], timeline[-1]):
                continue
            parent = self.parents[pid]
            while parent >= 0 and parent not in changed:
                changed.add(parent)
                parent = self.parents[parent]
        return changed

    # Asking --------------------------------------------------------------------

    def __len__(self):
        return len(self.paths)

    def lookup(self, path):
        return self._ids.get(path)

    def _event_at(self, pid, number):
        """The event that decides what `pid` is after layer `number`, or None."""
        if number < 0:
            return None
        for event in reversed(self.events[pid]):
            if event >> 32 <= number:
                return event
        return None

    def exists(self, pid, number):
        event = self._event_at(pid, number)
        return event is not None and event & _REF != _ABSENT

    def is_dir(self, pid, number):
        event = self._event_at(pid, number)
        if event is None or event & _REF == _ABSENT:
            return False
        ref = event & _REF
        return ref == _IMPLICIT or self.layers[event >> 32].kind(ref) == kinds.DIRECTORY

    def dir_size(self, pid, number):
        layers = self._size_layers.get(pid)
        if not layers:
            return 0
        at = _last_at_most(layers, number)
        return self._size_values[pid][at] if at >= 0 else 0

    def node(self, pid, number):
        """What `pid` is after layer `number`, marked by what that layer did to
        it; a path the layer removed comes as it was before. None if it is in
        neither."""
        now = self._event_at(pid, number)
        before = self._event_at(pid, number - 1)
        now_here = now is not None and now & _REF != _ABSENT
        before_here = before is not None and before & _REF != _ABSENT
        if not now_here and not before_here:
            return None
        event = now if now_here else before
        shown_at = number if now_here else number - 1
        ref, source = event & _REF, event >> 32
        if ref == _IMPLICIT:
            kind, size, mode, uid, gid, mtime, link = kinds.DIRECTORY, 0, None, None, None, None, b""
        else:
            layer = self.layers[source]
            kind, size, link = layer.kind(ref), layer.sizes[ref], layer.links[ref]
            mode, uid, gid, mtime = layer.modes[ref], layer.uids[ref], layer.gids[ref], layer.mtimes[ref]
        if kind == kinds.DIRECTORY:
            size = self.dir_size(pid, shown_at)
        if not before_here:
            mark = ADDED
        elif not now_here:
            mark = REMOVED
        elif now >> 32 == number and number >= 0 and self._entry_changed(before, now):
            mark = MODIFIED
        else:
            mark = UNCHANGED
        path = self.paths[pid]
        changes_below = now_here and kind == kinds.DIRECTORY and number >= 0 and pid in self.changed_below[number]
        return Node(path, path.rpartition(b"/")[2], kind, size, mode, uid, gid, mtime, link, mark, changes_below,
                    source)

    def _entry_changed(self, before, now):
        """A layer's entry for a path that was there: a file (or link, device)
        counts as modified, since the layer wrote it again; a directory only if
        its kind, mode or owner changed, not for the new mtime every change
        inside it gives it."""
        new_ref, old_ref = now & _REF, before & _REF
        if new_ref == _IMPLICIT:
            return False
        new_layer = self.layers[now >> 32]
        if new_layer.kind(new_ref) != kinds.DIRECTORY:
            return True
        if old_ref == _IMPLICIT:
            return True
        old_layer = self.layers[before >> 32]
        return (old_layer.kind(old_ref) != kinds.DIRECTORY or old_layer.modes[old_ref] != new_layer.modes[new_ref]
                or old_layer.uids[old_ref] != new_layer.uids[new_ref]
                or old_layer.gids[old_ref] != new_layer.gids[new_ref])

    def listing(self, number, directory_pid, changed_only=False):
        """The entries of a directory after layer `number`, and those the layer
        removed from it, sorted by name. With `changed_only`, only what the
        layer added, modified or removed, and directories holding such."""
        nodes = []
        for pid in self.children.get(directory_pid, ()):
            node = self.node(pid, number)
            if node is None:
                continue
            if changed_only and node.mark == UNCHANGED and not node.changes_below:
                continue
            nodes.append(node)
        nodes.sort(key=lambda node: node.name)
        return nodes

    def final_entries(self):
        """{path: (kind, size, mode, uid, gid, mtime, link)} for every path of the
        finished image (directories without their size); kept for the next diff."""
        if self._final is None:
            self._final = self._final_entries()
        return self._final

    def _final_entries(self):
        found = {}
        paths, layers = self.paths, self.layers
        for pid, timeline in enumerate(self.events):
            if not pid or not timeline:
                continue
            event = timeline[-1]  # no layer comes after the last one
            ref = event & _REF
            if ref == _ABSENT:
                continue
            if ref == _IMPLICIT:
                found[paths[pid]] = (kinds.DIRECTORY, 0, None, None, None, None, b"")
                continue
            layer = layers[event >> 32]
            found[paths[pid]] = (layer.kinds[ref:ref + 1], layer.sizes[ref], layer.modes[ref], layer.uids[ref],
                                 layer.gids[ref], layer.mtimes[ref], layer.links[ref])
        return found

    def history_of(self, pid):
        """[(layer, present after it)] for each layer that changed `pid`."""
        return [(event >> 32, event & _REF != _ABSENT) for event in self.events[pid]]

    def search(self, needle, limit):
        """Paths holding `needle` (bytes) that exist in some layer, by path; and
        whether there were more than `limit`."""
        found, more = [], False
        for pid in range(1, len(self.paths)):
            if needle in self.paths[pid] and self.events[pid]:
                if len(found) == limit:
                    more = True
                    break
                found.append(pid)
        found.sort(key=self.paths.__getitem__)
        return found, more

    def total_size(self, number):
        return self.dir_size(ROOT, number)

    def file_count(self, number):
        if number == len(self.layers) - 1:  # the last layer decides: no timeline to search
            return sum(1 for timeline in self.events[1:] if timeline and timeline[-1] & _REF != _ABSENT)
        return sum(1 for pid in range(1, len(self.paths)) if self.exists(pid, number))


@contextmanager
def _cycle_collector_paused():
    """Stacking makes a list per path and frees none of them: the cycle collector
    would walk them all again and again for nothing (a third of the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _last_at_most(values, limit):
    """The index of the last value <= limit in an ascending list, or -1."""
    low, high = 0, len(values)
    while low < high:
        middle = (low + high) // 2
        if values[middle] <= limit:
            low = middle + 1
        else:
            high = middle
    return low - 1

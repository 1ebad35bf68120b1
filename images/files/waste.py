"""Wasted space and an efficiency score, computed as wagoodman/dive computes them.

dive's definition (dive/filetree/efficiency.go, `Efficiency`, and
dive/image/analysis.go, `Analyze`):

- every layer is a tree of the paths its tar holds; only the leaves of each
  layer's tree are visited (`visitEvaluator: node.IsLeaf()`), so a directory
  counts only where a layer lists it with nothing below it;
- a visit adds the node's size to its path's `CumulativeSize` and keeps the
  smallest size seen (`minDiscoveredSize`). A whiteout (`.wh.name`, its path
  without the prefix) weighs what it removed: the size of everything below it
  in the layers underneath (`StackTreeRange(trees, 0, currentTree-1)`) if that
  was a directory, and 0 if it was a file;
- a path visited in two or more layers is an inefficiency; the wasted bytes
  are the sum of those paths' cumulative sizes (analysis.go sums
  `CumulativeSize`, the copy still in use included);
- the score is the sum of every path's smallest size over the sum of every
  path's cumulative size (1.0 for an image of empty files); the wasted share
  is wasted bytes over the size of every layer but the first
  (`userSizeBytes`), a layer's size being the sum of its entries' sizes
  (`tree.FileSize`).

Two places where Dockyard has to decide what dive leaves undecided:
- dive drops opaque-directory markers (`.wh..wh..opq`: `AddChild` refuses
  names with that prefix), so files an opaque directory hides from lower
  layers would count as alive. Here the marker counts as a whiteout of each
  lower path it hides, the top-most ones (what `rm -rf dir && mkdir dir` in
  one RUN means), weighed by dive's whiteout rule;
- a whiteout of a path the lower layers never had ends dive's walk of that
  layer with an error; here it weighs 0 and the walk goes on.
"""

from array import array

from images.files import entries as kinds


class Efficiency:
    """Visits per path, fed one layer at a time (before that layer is applied
    to the filesystem, so that a whiteout can weigh what it removes)."""

    def __init__(self):
        # By pid, a path's first visit (-1: none yet), in arrays: a dict of
        # tuples cost 150 bytes a path, most of a large layer's index.
        self._first_sizes = array("q")
        self._first_layers = array("i")
        self._repeated = {}  # pid -> [cumulative, smallest, [layers]], once visited twice
        self._minimum = 0  # sum of every path's smallest size
        self._cumulative = 0

    # The columns of `state()`, for `images.files.columns`.
    STATE_TYPES = ("q", "i", "I", "q", "q", "I", "I", "q")

    def state(self):
        """The visits so far as columns, to carry on from in `restored`."""
        repeated = self._repeated.values()
        return [self._first_sizes, self._first_layers,
                array("I", self._repeated), array("q", (seen[0] for seen in repeated)),
                array("q", (seen[1] for seen in repeated)), array("I", (len(seen[2]) for seen in repeated)),
                array("I", (layer for seen in repeated for layer in seen[2])),
                array("q", (self._minimum, self._cumulative))]

    @classmethod
    def restored(cls, state):
        first_sizes, first_layers, repeated_pids, cumulative, smallest, counts, layers, totals = state
        if not (len(first_sizes) == len(first_layers)
                and len(repeated_pids) == len(cumulative) == len(smallest) == len(counts)
                and sum(counts) == len(layers) and len(totals) == 2):
            raise ValueError("The visits of a checkpoint disagree on their lengths.")
        efficiency = cls()
        efficiency._first_sizes, efficiency._first_layers = first_sizes, first_layers
        at = 0
        for pid, total, least, count in zip(repeated_pids, cumulative, smallest, counts):
            efficiency._repeated[pid] = [total, least, list(layers[at:at + count])]
            at += count
        efficiency._minimum, efficiency._cumulative = totals
        return efficiency

    def _visit(self, pid, layer, size):
        self._cumulative += size
        seen = self._repeated.get(pid)
        if seen is not None:
            seen[0] += size
            if size < seen[1]:
                self._minimum -= seen[1] - size
                seen[1] = size
            seen[2].append(layer)
            return
        first_layer = self._first_layers[pid]
        if first_layer < 0:
            self._first_layers[pid] = layer
            self._first_sizes[pid] = size
            self._minimum += size
            return
        first_size = self._first_sizes[pid]
        smallest = min(first_size, size)
        self._minimum -= first_size - smallest
        self._repeated[pid] = [first_size + size, smallest, [first_layer, layer]]

    def add_layer(self, number, layer, pids, files):
        new_paths = len(files.paths) - len(self._first_layers)
        if new_paths > 0:
            self._first_layers.extend(array("i", [-1]) * new_paths)
            self._first_sizes.extend(array("q", [0]) * new_paths)
        layer_kinds = layer.kinds
        parents = files.parents
        inner = set()  # paths of the layer's tree that hold another of its paths
        in_tree = set()
        opaque = []
        for index, pid in enumerate(pids):
            if layer_kinds[index:index + 1] == kinds.OPAQUE:
                opaque.append(pid)
                continue
            in_tree.add(pid)
            parent = parents[pid]
            while parent > 0 and parent not in inner:
                inner.add(parent)
                parent = parents[parent]
        visited = {}
        for index, pid in enumerate(pids):
            kind = layer_kinds[index:index + 1]
            if kind == kinds.OPAQUE or pid in inner:
                continue
            # One node a path, as dive's tree holds it; the last entry's payload wins.
            visited[pid] = self._whiteout_size(pid, files) if kind == kinds.WHITEOUT else layer.sizes[index]
        in_tree |= inner
        for directory in opaque:
            for pid in self._hidden_by(directory, in_tree, files):
                visited.setdefault(pid, self._whiteout_size(pid, files))
        for pid, size in visited.items():
            self._visit(pid, number, size)

    @staticmethod
    def _whiteout_size(pid, files):
        return files.size_now(pid) if files.is_dir_now(pid) else 0

    @staticmethod
    def _hidden_by(directory, in_tree, files):
        """The top-most lower paths below an opaque directory that its layer does
        not put back."""
        stack = [directory]
        while stack:
            for child in files.children.get(stack.pop(), ()):
                if not files.present(child):
                    continue
                if child not in in_tree:
                    yield child
                elif files.is_dir_now(child):
                    stack.append(child)

    def report(self, layer_sizes, paths, limit=100):
        """The score, the wasted bytes and share, and the `limit` largest wasters
        as (path, cumulative size, [layers])."""
        wasted = sum(seen[0] for seen in self._repeated.values())
        user_size = sum(layer_sizes[1:])
        largest = sorted((item for item in self._repeated.items() if item[1][0] > 0),
                         key=lambda item: (-item[1][0], paths[item[0]]))[:limit]
        return {
            "efficiency": self._minimum / self._cumulative if self._cumulative else 1.0,
            "wasted_bytes": wasted,
            "user_size": user_size,
            "wasted_share": wasted / user_size if user_size else 0.0,
            "inefficient_paths": len(self._repeated),
            "wasters": [(paths[pid], seen[0], list(seen[2])) for pid, seen in largest],
        }

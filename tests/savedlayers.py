"""An image's layers read from `docker save` with Python's tarfile, and what the
definitions say of them, worked out here without images.files: the filesystem
after each layer (plain dicts, replayed), the marks a layer's view gets, and
dive's efficiency and wasted bytes (dive/filetree/efficiency.go, with the
opaque-directory rule images/files/waste.py states)."""

import io
import json
import subprocess
import tarfile

WH = ".wh."
OPQ = ".wh..wh..opq"


def saved_layers(reference):
    """[[(path, kind, size, mode, uid, gid, link), ...] per layer, base first], with
    paths as bytes without a leading "./" or trailing "/"; kind is the tar type."""
    raw = subprocess.run(["docker", "save", reference], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(raw)) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        layers = []
        for name in manifest[0]["Layers"]:
            member = outer.getmember(name)
            while member.issym():  # a layer saved twice links to its first copy
                member = outer.getmember(member.name.rsplit("/", 2)[0] + "/" + member.linkname.lstrip("./"))
            with tarfile.open(fileobj=outer.extractfile(member), encoding="utf-8", errors="surrogateescape") as inner:
                layers.append([(info.name.encode("utf-8", "surrogateescape").strip(b"/").removeprefix(b"./"),
                                info.type, info.size if info.isreg() else 0, info.mode & 0o7777, info.uid, info.gid,
                                info.linkname.encode("utf-8", "surrogateescape"))
                               for info in inner.getmembers()])
    return layers


def _base(path):
    return path.rsplit(b"/", 1)[-1]


def _parent(path):
    return path.rsplit(b"/", 1)[0] if b"/" in path else b""


def _below(fs, path):
    return [other for other in fs if other.startswith(path + b"/")]


def apply(fs, layer):
    """The filesystem after `layer`, from the one before it: removals, then entries."""
    fs = dict(fs)
    for path, *_ in layer:
        base = _base(path).decode("utf-8", "surrogateescape")
        if base == OPQ:
            for other in _below(fs, _parent(path)):
                del fs[other]
        elif base.startswith(WH + WH):
            continue
        elif base.startswith(WH):
            gone = (_parent(path) + b"/" if _parent(path) else b"") + _base(path)[len(WH):]
            for other in [gone, *_below(fs, gone)]:
                fs.pop(other, None)
    for entry in layer:
        path, kind = entry[0], entry[1]
        if _base(path).startswith(WH.encode()):
            continue
        old = fs.get(path)
        if old is not None and old[1] == tarfile.DIRTYPE and kind != tarfile.DIRTYPE:
            for other in _below(fs, path):
                del fs[other]
        fs[path] = entry
    return fs


def filesystems(layers):
    """The filesystem after each layer."""
    found, fs = [], {}
    for layer in layers:
        fs = apply(fs, layer)
        found.append(fs)
    return found


def size_of(fs, path):
    entry = fs.get(path)
    if entry is not None and entry[1] != tarfile.DIRTYPE:
        return entry[2]
    return sum(fs[other][2] for other in _below(fs, path) if fs[other][1] != tarfile.DIRTYPE)


def view(layers, number, directory=b""):
    """{name: (mark, size, kind, mode, uid, gid, link)} of a directory after layer
    `number` (from 0), with what that layer removed from it."""
    after = filesystems(layers[:number + 1])[-1]
    before = filesystems(layers[:number])[-1] if number else {}
    listed = {entry[0] for entry in layers[number]}
    found = {}
    for path in set(after) | set(before):
        if _parent(path) != directory:
            continue
        now, then = after.get(path), before.get(path)
        if then is None:
            mark = "added"
        elif now is None:
            mark = "removed"
        elif path in listed and (now[1] != tarfile.DIRTYPE or now[1] != then[1] or now[3:6] != then[3:6]):
            mark = "modified"
        else:
            mark = "unchanged"
        entry = now or then
        found[_base(path)] = (mark, size_of(after if now else before, path), entry[1], entry[3], entry[4],
                              entry[5], entry[6])
    return found


def dive_efficiency(layers):
    """dive's score, wasted bytes and the paths behind them, per efficiency.go."""
    visits = {}  # path -> [sizes]
    fs = {}
    for number, layer in enumerate(layers):
        names = [entry[0] for entry in layer if _base(entry[0]).decode("utf-8", "surrogateescape") != OPQ]
        inner = {_parent(name) for name in names}
        for name in list(inner):
            while name:
                name = _parent(name)
                inner.add(name)
        in_tree = set(names) | inner
        seen = {}
        for entry in layer:
            path, base = entry[0], _base(entry[0]).decode("utf-8", "surrogateescape")
            if base == OPQ:
                continue
            if path in inner:
                continue
            if base.startswith(WH):
                gone = (_parent(path) + b"/" if _parent(path) else b"") + _base(path)[len(WH):]
                seen[gone] = _whiteout_weight(fs, gone)
            else:
                seen[path] = entry[2]
        for entry in layer:
            if _base(entry[0]).decode("utf-8", "surrogateescape") == OPQ:
                directory = _parent(entry[0])
                for path in _hidden(fs, directory, in_tree):
                    seen.setdefault(path, _whiteout_weight(fs, path))
        for path, size in seen.items():
            visits.setdefault(path, []).append((number, size))
        fs = apply(fs, layer)
    cumulative = sum(size for sizes in visits.values() for _, size in sizes)
    minimum = sum(min(size for _, size in sizes) for sizes in visits.values())
    repeated = {path: sizes for path, sizes in visits.items() if len(sizes) > 1}
    wasted = sum(size for sizes in repeated.values() for _, size in sizes)
    layer_sizes = [sum(entry[2] for entry in layer) for layer in layers]
    return {
        "efficiency": minimum / cumulative if cumulative else 1.0,
        "wasted_bytes": wasted,
        "user_size": sum(layer_sizes[1:]),
        "wasters": sorted(((path, sum(size for _, size in sizes), [number for number, _ in sizes])
                           for path, sizes in repeated.items() if sum(size for _, size in sizes)),
                          key=lambda row: (-row[1], row[0])),
    }


def _whiteout_weight(fs, path):
    entry = fs.get(path)
    return size_of(fs, path) if entry is not None and entry[1] == tarfile.DIRTYPE else 0


def _hidden(fs, directory, in_tree):
    """Lower paths below an opaque directory its layer does not put back, the top-most."""
    for path in sorted(_below(fs, directory)):
        if path in in_tree:
            continue
        parent = _parent(path)
        if parent == directory or parent in in_tree:
            yield path

"""The API's view of image files: start an index, read one directory after one
layer, search paths, wasted space, and the diff of two images (docs/api.md)."""

from dataclasses import asdict

from django.http import JsonResponse

from images.api.endpoints import _error, _job, api_endpoint
from images.catalog import detail
from images.files import diff, explorer
from images.jobs import control


def _index_of(request, reference):
    return explorer.index_for(detail.image_summary(request.engine, reference).id)


def _number(request, name, default=0):
    try:
        return max(int(request.GET.get(name, default)), 0)
    except ValueError:
        return None


@api_endpoint("POST", permission="build")
def image_index(request, reference):
    image = detail.image_summary(request.engine, reference)
    return JsonResponse(_job(control.start_index(request.user, image.id)), status=201)


@api_endpoint("GET", permission="browse")
def image_files(request, reference):
    index = _index_of(request, reference)
    offset, limit = _number(request, "offset"), _number(request, "limit", explorer.PAGE)
    if offset is None or limit is None:
        return _error(400, "offset and limit are whole numbers.")
    layer = explorer.parse_layer(request.GET.get("layer"), index)
    listing = explorer.directory(index, layer, request.GET.get("path", "/"), request.GET.get("changed") in ("1", "true"),
                                 offset, min(limit or explorer.PAGE, explorer.PAGE))
    return JsonResponse({
        "image": index.image_id,
        "layer": listing.layer,
        "layers": [_layer(row) for row in explorer.layers(index)],
        "path": listing.path,
        "size": listing.size,
        "changed_only": listing.changed_only,
        "total": listing.total,
        "offset": listing.offset,
        "more": listing.more,
        "entries": [_entry(entry) for entry in listing.entries],
    })


@api_endpoint("GET", permission="browse")
def image_files_search(request, reference):
    index = _index_of(request, reference)
    hits, more = explorer.search(index, request.GET.get("q", "")[:1024])
    return JsonResponse({"image": index.image_id, "more": more, "hits": [
        {"path": hit.path, "is_dir": hit.is_dir, "present": hit.present,
         "changes": [{"layer": layer, "change": change} for layer, change in hit.changes]} for hit in hits]})


@api_endpoint("GET", permission="browse")
def image_waste(request, reference):
    index = _index_of(request, reference)
    return JsonResponse({"image": index.image_id, **asdict(explorer.waste(index))})


@api_endpoint("GET", permission="browse")
def images_diff(request):
    a, b = request.GET.get("a", "").strip(), request.GET.get("b", "").strip()
    if not a or not b:
        return _error(400, "Name both images: ?a=<id or reference>&b=<id or reference>.")
    found = diff.compare(request.engine, a, b, request.GET.get("q", "")[:1024])
    return JsonResponse({
        "a": found.a.id, "b": found.b.id,
        "config": [asdict(change) for change in found.config],
        "layers": {"shared": [_diff_layer(row) for row in found.shared],
                   "a": [_diff_layer(row) for row in found.a_layers],
                   "b": [_diff_layer(row) for row in found.b_layers]},
        "files": None if found.files is None else {
            "totals": found.file_totals, "changes": [asdict(change) for change in found.files]},
        "not_indexed": [side.id for side in found.not_indexed],
    })


def _entry(entry):
    # By hand: dataclasses.asdict copies every value deeply, a third of a 500-entry answer.
    return {"name": entry.name, "path": entry.path, "kind": entry.kind, "is_dir": entry.is_dir, "size": entry.size,
            "mode": entry.mode, "octal_mode": entry.octal_mode, "uid": entry.uid, "gid": entry.gid,
            "mtime": entry.mtime, "link": entry.link, "mark": entry.mark, "changes_below": entry.changes_below,
            "from_layer": entry.from_layer}


def _layer(row):
    return {"number": row.number, "diff_id": row.diff_id, "instruction": str(row.instruction),
            "entries": row.entry_count, "size": row.size, "notes": row.notes}


def _diff_layer(row):
    return {"number": row.number, "diff_id": row.diff_id, "instruction": str(row.instruction), "size": row.size}

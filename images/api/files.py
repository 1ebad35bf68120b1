"""Image files: start an index, one directory after one layer, the path search,
wasted space, and the diff of two images."""

from ninja import Query, Router, Schema, Status
from pydantic import BaseModel, ConfigDict, Field

from images.accounts.roles import INDEX_FILES
from images.api.auth import allowed
from images.api.fields import ImageId, full_image_id
from images.api.schemas import Job, errors
from images.catalog import detail
from images.files import diff, explorer
from images.jobs import control

router = Router(tags=["files"])


class DirectoryQuery(Schema):
    layer: int | None = Field(None, ge=1, description="1 is the base layer; the top one if left out.")
    path: str = Field("/", max_length=8192, description="A directory, as `path` in an entry shows it.")
    changed: bool = Field(False, description="Only what the layer added, modified or removed, and the directories "
                                             "holding such.")
    offset: int = Field(0, ge=0, description=f"Entries to skip; {explorer.PAGE} come at a time.")


# Entries are plain pydantic models: ninja's Schema reads each attribute through
# a wrapper, which for a directory of hundreds costs 4x (as for images_list).
class Entry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str = Field(description="Printable UTF-8 as it is; other bytes as \\xNN, a backslash doubled.")
    path: str
    kind: str = Field(description="file, directory, symlink, hard link, character device, block device or fifo")
    is_dir: bool
    size: int = Field(description="A file's bytes; a directory's, everything below it.")
    mode: str = Field(description="As ls -l writes it: drwxr-xr-x.")
    octal_mode: str
    uid: int | None
    gid: int | None
    mtime: int | None
    link: str = Field(description="A symlink's target, or the path a hard link shares its file with.")
    mark: str = Field(description="added, modified or removed by the layer asked about, or unchanged.")
    changes_below: bool = Field(description="A directory with something the layer changed inside it.")
    from_layer: int = Field(description="The layer its entry comes from.")


class Layer(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    diff_id: str
    instruction: str
    entry_count: int
    size: int = Field(description="The sum of its files' sizes.")
    notes: list[str] = Field(description="What the caps (DOCKYARD_INDEX_MAX_FILES, _MAX_PATH) left out.")


class Directory(BaseModel):
    image: str
    layer: int
    layers: list[Layer]
    path: str
    size: int
    changed_only: bool
    total: int = Field(description="Entries in the directory (with the filter).")
    offset: int
    more: int = Field(description="Entries after these.")
    entries: list[Entry]


class SearchQuery(Schema):
    q: str = Field(max_length=1024, description="Part of a path.")


class Change(Schema):
    layer: int
    change: str = Field(description="added, modified or removed")


class Hit(Schema):
    path: str
    is_dir: bool
    present: bool = Field(description="In the finished image.")
    changes: list[Change]

    @staticmethod
    def resolve_changes(hit):
        return [{"layer": layer, "change": change} for layer, change in hit.changes]


class SearchAnswer(Schema):
    image: str
    more: bool = Field(description=f"More than the {explorer.SEARCH_LIMIT} paths here hold it.")
    hits: list[Hit]


class Waster(Schema):
    path: str = Field(description="Spelled as /files and the search spell paths: /root/saved.txt.")
    size: int = Field(description="Its bytes in all the layers that hold it.")
    layers: list[int]


class Waste(Schema):
    image: str
    efficiency: float = Field(description="dive's score: the smallest size of each path over all their sizes.")
    wasted_bytes: int = Field(description="dive's: the sizes of every path written in two layers or more.")
    wasted_share: float = Field(description="Wasted bytes over the size of every layer but the base.")
    user_size: int
    inefficient_paths: int
    wasters: list[Waster] = Field(description="The largest, at most 100.")


class DiffQuery(Schema):
    a: str = Field(max_length=600, description="The image to compare from: an id or a reference.")
    b: str = Field(max_length=600, description="The image to compare to.")
    q: str = Field("", max_length=1024, description="Only files whose path holds this.")


class ConfigChange(Schema):
    field: str
    key: str
    a: str
    b: str
    change: str = Field(description="added, removed or changed")


class DiffLayer(Schema):
    number: int
    diff_id: str
    instruction: str
    size: int

    @staticmethod
    def resolve_instruction(row):
        return str(row.instruction)


class DiffLayers(Schema):
    shared: list[DiffLayer] = Field(description="The layers both start with.")
    a: list[DiffLayer] = Field(description="a's own, after them.")
    b: list[DiffLayer]


class Side(BaseModel):
    kind: str
    size: int
    mode: str
    uid: int | None
    gid: int | None
    mtime: int | None
    link: str


class FileChange(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    path: str
    change: str = Field(description="added, removed or changed")
    kind: str
    a: Side | None
    b: Side | None
    size_change: int
    what: list[str] = Field(description="What differs, for a change: size, mtime, mode, uid, gid, link, kind.")


class FileTotals(BaseModel):
    added: int
    removed: int
    changed: int
    added_bytes: int
    removed_bytes: int
    size_change: int
    matching: int = Field(description="Changes whose path holds q.")
    shown: int


class FileDiff(BaseModel):
    totals: FileTotals
    changes: list[FileChange] = Field(description=f"The {diff.FILE_LIMIT:,} largest size changes first.")


class Comparison(Schema):
    a: str
    b: str
    config: list[ConfigChange]
    layers: DiffLayers
    files: FileDiff | None = Field(description="Until both images are indexed, null.")
    not_indexed: list[str]


@router.post("/images/{imageid:image_id}/index", response={201: Job, **errors(404, 429)},
             auth=allowed("build", INDEX_FILES))
def image_index(request, image_id: ImageId):
    """Index an image's files.

    Starts a job of kind `index`, which reads the image's `docker save` stream once; its `progress` has a bar per
    layer. Layers already indexed for another image are not read again.
    """
    image = detail.image_summary(request.engine, image_id)
    return Status(201, control.start_index(request.user, image.id, image.tags[0] if image.tags else ""))


@router.get("/images/{imageid:image_id}/files/search", response={200: SearchAnswer, **errors(404)},
            auth=allowed("browse"))
def image_files_search(request, image_id: ImageId, query: Query[SearchQuery]):
    """Search an image's paths.

    Paths holding `q` in any layer, with what each layer did to them; the first 200.
    """
    index = explorer.index_for(full_image_id(request.engine, image_id))
    hits, more = explorer.search(index, query.q)
    return {"image": index.image_id, "more": more, "hits": hits}


@router.get("/images/{imageid:image_id}/files", response={200: Directory, **errors(404)}, auth=allowed("browse"))
def image_files(request, image_id: ImageId, query: Query[DirectoryQuery]):
    """One directory after one layer.

    The directory as that layer leaves it, each entry marked by what the layer did to it, and what the layer removed
    from it; 404 until the image is indexed.
    """
    index = explorer.index_for(full_image_id(request.engine, image_id))
    layer = explorer.parse_layer(query.layer, index)
    listing = explorer.directory(index, layer, query.path, query.changed, query.offset)
    return {"image": index.image_id, "layer": listing.layer,
            "layers": [{**row.__dict__, "instruction": str(row.instruction)} for row in explorer.layers(index)],
            "path": listing.path, "size": listing.size, "changed_only": listing.changed_only, "total": listing.total,
            "offset": listing.offset, "more": listing.more, "entries": listing.entries}


@router.get("/images/{imageid:image_id}/waste", response={200: Waste, **errors(404)}, auth=allowed("browse"))
def image_waste(request, image_id: ImageId):
    """Wasted space, as dive counts it.

    Files written in one layer and written again or removed in a later one, and the efficiency score.
    """
    index = explorer.index_for(full_image_id(request.engine, image_id))
    return {"image": index.image_id, **explorer.waste(index).__dict__}


@router.get("/diff", response={200: Comparison, **errors(400, 404, 503)}, auth=allowed("browse"))
def images_diff(request, query: Query[DiffQuery]):
    """Compare two images.

    Their configuration, their layers (the shared ones, then each side's own), and, once both are indexed, every
    file added, removed or changed, largest size change first.
    """
    found = diff.compare(request.engine, query.a.strip(), query.b.strip(), query.q)
    return {"a": found.a.id, "b": found.b.id, "config": found.config,
            "layers": {"shared": found.shared, "a": found.a_layers, "b": found.b_layers},
            "files": None if found.files is None else {"totals": found.file_totals, "changes": found.files},
            "not_indexed": [side.id for side in found.not_indexed]}

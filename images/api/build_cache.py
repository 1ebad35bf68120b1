"""The build cache: the BuildKit cache the engine keeps, and its prune."""

from datetime import datetime

from ninja import Query, Router, Schema
from pydantic import Field

from images.accounts.roles import PRUNE_BUILD_CACHE, SEE_BUILD_CACHE
from images.api.auth import allowed
from images.api.errors import answer
from images.api.fields import FormOrJson
from images.api.schemas import errors
from images.lifecycle import build_cache
from images.lifecycle.tags import ActionRefused

router = Router(tags=["build cache"])


class CacheRecord(Schema):
    id: str
    type: str = Field(description="regular, source.local, source.git.checkout, exec.cachemount, internal or "
                                  "frontend, as the engine names it.")
    type_name: str = Field(description="The type in words, as the page shows it.")
    description: str = Field(description="The engine's: the step, or for a cache mount "
                                         "\"cached mount <directory> from exec <command>\".")
    mount_target: str = Field(description="A cache mount's directory; empty for other records.")
    size: int = Field(description="Bytes.")
    shared: bool = Field(description="Its data is also an image's.")
    in_use: bool = Field(description="A running build holds it.")
    created: datetime | None
    last_used: datetime | None
    usage_count: int
    parent: str


class TypeTotal(Schema):
    type: str
    name: str
    count: int
    size: int = Field(description="Bytes.")


class BuildCache(Schema):
    total: int = Field(description="Bytes of every record.")
    reclaimable: int = Field(description="Bytes of the records neither in use nor shared.")
    in_use: int
    shared: int
    by_type: list[TypeTotal]
    records: list[CacheRecord] = Field(description="Those asked for, biggest first, then the most recently used.")


class CacheFilters(Schema):
    q: str = Field("", description="Words each in a record's id or description.")
    type: str = Field("", description="Only records of this type (exec.cachemount, regular, ...).")


class PruneFields(Schema):
    keep_storage: str = Field("", description="Keep at most this much: bytes, or 1GB (decimal), 512MiB (binary).")
    until: str = Field("", description="Only records unused for this long: 24h, 7d, 1h30m.")
    all: bool = Field(False, description="Shared and internal records too.")
    record: str = Field("", description="Only this record (its id), whatever its type.")


class Pruned(Schema):
    deleted: list[str] = Field(description="The ids of the records deleted.")
    reclaimed: int = Field(description="Bytes reclaimed.")


@router.get("/build-cache", response={200: BuildCache, **errors(503)}, auth=allowed("build", SEE_BUILD_CACHE))
def build_cache_list(request, filters: Query[CacheFilters]):
    """The build cache.

    The engine's BuildKit cache records with their totals, by type, as the Build cache page shows them; the
    totals are the whole cache's, the records those `q` and `type` match.
    """
    summary = build_cache.summary(request.engine)
    records = build_cache.matching(summary.records, filters.q, filters.type)
    return {**summary.__dict__, "records": [{**record.__dict__, "type_name": record.type_name,
                                             "mount_target": record.mount_target} for record in records]}


@router.post("/build-cache/prune", response={200: Pruned, **errors(400, 503)}, auth=allowed("prune", PRUNE_BUILD_CACHE))
def build_cache_prune(request, fields: FormOrJson[PruneFields]):
    """Prune the build cache.

    Unused records, optionally keeping some storage, only those unused for a while, every type with `all`, or one
    `record`; answers with the ids deleted and the bytes reclaimed.
    """
    try:
        pruned = build_cache.prune(request.engine, request.user, keep_storage=fields.keep_storage,
                                   until=fields.until, all_records=fields.all, record_id=fields.record)
    except ActionRefused as refused:
        return answer(400, f"Nothing pruned: {refused}")
    return {"deleted": pruned.deleted, "reclaimed": pruned.reclaimed}

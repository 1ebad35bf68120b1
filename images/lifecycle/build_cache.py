"""The BuildKit build cache: what the engine keeps between builds, summed up as
the Build cache page and the API show it, and its prune.

The engine's records come from `/system/df`; each has a type: `regular` (a
layer a step made), `source.local` (a build context sent), `source.git.checkout`
(a Git context), `exec.cachemount` (a `RUN --mount=type=cache` directory, its
Description naming the target and the command), `internal` and `frontend`
(BuildKit's own). What people type (sizes, ages, record ids) is checked here,
and the engine checks them again.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from images.accounts import audit
from images.lifecycle.tags import ActionRefused

TYPE_NAMES = {
    "exec.cachemount": "cache mount",
    "regular": "layer",
    "source.local": "source: build context",
    "source.git.checkout": "source: Git checkout",
    "internal": "internal",
    "frontend": "frontend",
}
# The order of the by-type table: what a person made first, BuildKit's own last.
TYPE_ORDER = list(TYPE_NAMES)

CACHE_MOUNT = re.compile(r"^cached mount (?P<target>\S+) from exec (?P<command>.*)$", re.S)


@dataclass
class CacheRecord:
    id: str
    type: str
    description: str
    size: int
    shared: bool
    in_use: bool
    created: datetime | None
    last_used: datetime | None
    usage_count: int
    parent: str

    @property
    def type_name(self):
        return TYPE_NAMES.get(self.type, self.type)

    @property
    def is_cache_mount(self):
        return self.type == "exec.cachemount"

    @property
    def mount_target(self):
        """A cache mount's directory in the build ("/root/.cache"), from its Description."""
        match = CACHE_MOUNT.match(self.description) if self.is_cache_mount else None
        return match["target"] if match else ""

    @property
    def mount_command(self):
        match = CACHE_MOUNT.match(self.description) if self.is_cache_mount else None
        return match["command"] if match else ""

    @property
    def reclaimable(self):
        # As `docker system df` counts it: a shared record's data is also an image's.
        return not self.in_use and not self.shared


@dataclass
class TypeTotal:
    type: str
    name: str
    count: int = 0
    size: int = 0


@dataclass
class CacheSummary:
    records: list  # biggest first, then the most recently used
    total: int
    reclaimable: int
    in_use: int
    shared: int
    by_type: list = field(default_factory=list)

    @property
    def cache_mounts(self):
        return [record for record in self.records if record.is_cache_mount]


def _moment(value):
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _record(raw):
    return CacheRecord(
        id=str(raw.get("ID") or ""), type=str(raw.get("Type") or ""), description=str(raw.get("Description") or ""),
        size=int(raw.get("Size") or 0), shared=bool(raw.get("Shared")), in_use=bool(raw.get("InUse")),
        created=_moment(raw.get("CreatedAt")), last_used=_moment(raw.get("LastUsedAt")),
        usage_count=int(raw.get("UsageCount") or 0), parent=str(raw.get("Parent") or ""),
    )


def _sort_key(record):
    last_used = record.last_used or record.created
    return (-record.size, -(last_used.timestamp() if last_used else 0), record.id)


def summary(engine):
    """The build cache as the page shows it."""
    records = sorted((_record(raw) for raw in engine.build_cache()), key=_sort_key)
    totals = {name: TypeTotal(name, TYPE_NAMES[name]) for name in TYPE_ORDER}
    for record in records:
        total = totals.setdefault(record.type, TypeTotal(record.type, record.type_name))
        total.count += 1
        total.size += record.size
    return CacheSummary(
        records=records, total=sum(r.size for r in records),
        reclaimable=sum(r.size for r in records if r.reclaimable),
        in_use=sum(r.size for r in records if r.in_use), shared=sum(r.size for r in records if r.shared),
        by_type=[total for total in totals.values() if total.count],
    )


QUERY_MAX = 200


def matching(records, q="", record_type=""):
    """The records of one type (if given) whose id or description holds every word of `q`."""
    words = (q or "")[:QUERY_MAX].lower().split()
    return [record for record in records
            if (not record_type or record.type == record_type)
            and all(word in record.id or word in record.description.lower() for word in words)]


# What people type --------------------------------------------------------------------

SIZE = re.compile(r"^(?P<number>[0-9]{1,15}(?:\.[0-9]{1,6})?) ?(?P<unit>[KMGTP]I?B?|B)?$", re.I)
SIZE_UNITS = {"": 1, "B": 1, "K": 1000, "M": 1000 ** 2, "G": 1000 ** 3, "T": 1000 ** 4, "P": 1000 ** 5,
              "KI": 1024, "MI": 1024 ** 2, "GI": 1024 ** 3, "TI": 1024 ** 4, "PI": 1024 ** 5}
SIZE_MAX = 1024 ** 5  # a pebibyte: more than any host keeps, well inside the engine's int64
FIELD_MAX = 40  # characters of a size or an age worth reading


def parse_size(text):
    """"1GB", "512MiB", "1.5 GB", "2000000" (bytes) as bytes; "" as None.

    Decimal units (1GB = 1,000,000,000 bytes) as the page prints sizes, binary
    ones with "i" (1GiB = 1,073,741,824). `docker builder prune` reads 1GB as 1GiB."""
    text = (text or "").strip()
    if not text:
        return None
    match = SIZE.match(text) if len(text) <= FIELD_MAX else None
    if not match:
        raise ActionRefused(f"{text[:FIELD_MAX]!r} is not a size: write bytes, or a number with kB, MB, GB, TB "
                            f"(or KiB, MiB, GiB, TiB), such as 1GB or 512MiB.")
    unit = (match["unit"] or "").upper()
    unit = unit if unit == "B" else unit.removesuffix("B")
    value = round(float(match["number"]) * SIZE_UNITS[unit])
    if value > SIZE_MAX:
        raise ActionRefused("A size to keep is at most 1PiB.")
    return value


AGE_PART = re.compile(r"([0-9]{1,6})(d|h|m|s)")
AGE = re.compile(r"^(?:[0-9]{1,6}(?:d|h|m|s))+$")
AGE_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
AGE_MAX = 10 * 365 * 86400


def parse_age(text):
    """"24h", "7d", "1h30m", "90s" as a duration the engine reads ("86400s"); "" as None."""
    text = (text or "").strip().lower()
    if not text:
        return None
    if len(text) > FIELD_MAX or not AGE.match(text):
        raise ActionRefused(f"{text[:FIELD_MAX]!r} is not an age: write a number with d, h, m or s, such as 24h, "
                            f"7d or 1h30m.")
    seconds = sum(int(number) * AGE_SECONDS[unit] for number, unit in AGE_PART.findall(text))
    if seconds == 0:
        raise ActionRefused("An age is more than zero; leave it empty to prune whatever the age.")
    if seconds > AGE_MAX:
        raise ActionRefused("An age is at most ten years (3650d).")
    return f"{seconds}s"


RECORD_ID = re.compile(r"^[a-z0-9]{1,64}$")


# Prune ---------------------------------------------------------------------------

@dataclass
class Pruned:
    deleted: list  # record ids
    reclaimed: int  # bytes


def describe_scope(keep_storage=None, until=None, all_records=False, record_id=None, until_text=""):
    if record_id:
        return f"build-cache record {record_id}"
    words = ["all build cache" if all_records else "unused build cache, shared and internal records kept"]
    if until:
        words.append(f"unused for {until_text or until}")
    if keep_storage is not None:
        words.append(f"keeping {keep_storage} bytes")
    return ", ".join(words)


def prune(engine, user, keep_storage="", until="", all_records=False, record_id=""):
    """Prune the build cache; `record_id` prunes that one record (shared or not).
    Every input is checked before the engine is asked; an ActionRefused says
    what is wrong and nothing is pruned. Audited as prune-build-cache."""
    keep_bytes = parse_size(keep_storage)
    age = parse_age(until)
    record_id = (record_id or "").strip()
    if record_id:
        if not RECORD_ID.match(record_id):
            raise ActionRefused("A build-cache record id is letters and digits, as the list shows it.")
        if keep_bytes is not None or age:
            raise ActionRefused("Prune one record, or prune by size and age: not both at once.")
        listed = {raw.get("ID"): raw for raw in engine.build_cache()}
        if record_id not in listed:
            raise ActionRefused(f"The engine holds no build-cache record {record_id}.")
        if listed[record_id].get("InUse"):
            raise ActionRefused(f"Build-cache record {record_id} is in use by a build running now.")
        all_records = True
    scope = describe_scope(keep_bytes, age, all_records, record_id, until_text=(until or "").strip())
    with audit.recorded(user, "prune-build-cache", scope) as entry:
        answer = engine.prune_build_cache(keep_storage=keep_bytes, all_records=all_records, until=age,
                                          record_id=record_id or None)
        deleted = [str(item) for item in answer.get("CachesDeleted") or []]
        reclaimed = int(answer.get("SpaceReclaimed") or 0)
        named = ", ".join(deleted[:50]) + (f" and {len(deleted) - 50} more" if len(deleted) > 50 else "")
        entry["detail"] = f"{len(deleted)} record(s) deleted, {reclaimed} bytes reclaimed" + (
            f": {named}" if deleted else "")
    return Pruned(deleted, reclaimed)

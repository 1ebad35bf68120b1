"""What each engine's disk holds: images, containers, volumes and the build cache,
each as a count, how many are in use, a size and what is reclaimable, summed up
from the engine's `GET /system/df` exactly as `docker system df` sums it up (the
docker CLI's cli/command/system/df.go and formatter/disk_usage.go), so the two
always agree; and the samples of those figures kept for the plots.

The CLI's figures, which these follow:
- images: the size is the engine's LayersSize (every layer once, however many
  images share it); an image is active when a container uses it, and what such
  an image holds alone (Size - SharedSize) is not reclaimable;
- containers: writable layers (SizeRw); a running, paused or restarting
  container is active and its layer not reclaimable;
- volumes: a volume some container refers to is active; sizes the engine could
  not measure (-1) count as nothing;
- build cache: records shared with images are not counted; records in use by a
  running build are active and not reclaimable.
"""

from dataclasses import dataclass
from datetime import timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.utils import timezone

from images import engines
from images.engine import EngineError, get_engine
from images.models import DiskSample

KINDS = {"images": "Images", "containers": "Containers", "volumes": "Local volumes", "build_cache": "Build cache"}
FIGURES = ("count", "active", "size", "reclaimable")
ACTIVE_STATES = ("running", "paused", "restarting")
PURGE_BATCH = 5000


@dataclass
class Usage:
    """One kind of thing on the disk."""

    kind: str
    count: int = 0
    active: int = 0
    size: int = 0
    reclaimable: int = 0

    @property
    def name(self):
        return KINDS[self.kind]

    @property
    def reclaimable_percent(self):
        # Whole percent rounded down, as the CLI prints it beside the bytes.
        return self.reclaimable * 100 // self.size if self.size > 0 else None


@dataclass
class DiskUsage:
    """An engine's four kinds, in the CLI's order."""

    images: Usage
    containers: Usage
    volumes: Usage
    build_cache: Usage

    @property
    def kinds(self):
        return [self.images, self.containers, self.volumes, self.build_cache]

    @property
    def size(self):
        return sum(usage.size for usage in self.kinds)

    @property
    def reclaimable(self):
        return sum(usage.reclaimable for usage in self.kinds)

    def fields(self):
        """The figures as DiskSample's fields."""
        return {f"{usage.kind}_{figure}": getattr(usage, figure) for usage in self.kinds for figure in FIGURES}

    @classmethod
    def from_sample(cls, sample):
        return cls(**{kind: Usage(kind, **{figure: getattr(sample, f"{kind}_{figure}") for figure in FIGURES})
                      for kind in KINDS})


def _number(value):
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def summarize(df):
    """The four kinds from a `GET /system/df` answer."""
    images = Usage("images", count=len(df.get("Images") or []), size=_number(df.get("LayersSize")))
    held_alone = 0
    for image in df.get("Images") or []:
        if _number(image.get("Containers")) != 0:
            images.active += 1
            size, shared = _number(image.get("Size")), _number(image.get("SharedSize"))
            if size != -1 and shared != -1:
                held_alone += size - shared
    images.reclaimable = images.size - held_alone

    containers = Usage("containers", count=len(df.get("Containers") or []))
    for container in df.get("Containers") or []:
        size = _number(container.get("SizeRw"))
        containers.size += size
        if str(container.get("State") or "") in ACTIVE_STATES:
            containers.active += 1
        else:
            containers.reclaimable += size

    volumes = Usage("volumes", count=len(df.get("Volumes") or []))
    for volume in df.get("Volumes") or []:
        usage = volume.get("UsageData") or {}
        size, references = _number(usage.get("Size")), _number(usage.get("RefCount"))
        if references > 0:
            volumes.active += 1
        if size != -1:
            volumes.size += size
            if references == 0:
                volumes.reclaimable += size

    build_cache = Usage("build_cache", count=len(df.get("BuildCache") or []))
    for record in df.get("BuildCache") or []:
        if record.get("InUse"):
            build_cache.active += 1
        if not record.get("Shared"):
            build_cache.size += _number(record.get("Size"))
            if not record.get("InUse"):
                build_cache.reclaimable += _number(record.get("Size"))
    return DiskUsage(images, containers, volumes, build_cache)


def current(engine):
    """The engine's disk usage now (one `GET /system/df`)."""
    return summarize(engine.disk_usage())


@dataclass
class EngineDisk:
    """An engine's name and its disk usage now, or why it could not be read."""

    engine: str
    usage: DiskUsage | None
    error: str = ""


def current_everywhere(names):
    """Each engine of `names`, in order; one that does not answer says so
    instead of hiding the others."""
    found = []
    for name in names:
        try:
            found.append(EngineDisk(name, current(get_engine(name))))
        except EngineError as exc:
            found.append(EngineDisk(name, None, str(exc)))
    return found


# Samples -------------------------------------------------------------------------

def take_sample(engine_name):
    """Store the engine's disk usage now as a DiskSample and return it."""
    usage = current(get_engine(engine_name))
    return DiskSample.objects.create(engine=engine_name, at=timezone.now(), **usage.fields())


def sample_every_engine():
    """Celery beat's sampling: one sample per engine that answers, then the
    purge of those older than DOCKYARD_DISK_SAMPLE_DAYS. Returns the samples."""
    from images.monitoring import repositories  # it reads the models too; kept apart, one purpose a file

    taken = []
    for name in engines.names():
        try:
            taken.append(take_sample(name))
            repositories.take_samples(get_engine(name), at=taken[-1].at)
        except EngineError:
            continue  # an engine that is down leaves a gap in its plot, not a zero
    purge_old()
    repositories.purge_before(sample_cutoff())
    return taken


def sample_cutoff():
    return timezone.now() - timedelta(days=settings.DOCKYARD_DISK_SAMPLE_DAYS)


def purge_old(batch=PURGE_BATCH):
    """Remove the samples older than DOCKYARD_DISK_SAMPLE_DAYS; returns how many."""
    old = DiskSample.objects.filter(at__lt=sample_cutoff()).values_list("pk", flat=True)
    removed = 0
    while pks := list(old[:batch]):
        removed += DiskSample.objects.filter(pk__in=pks).delete()[0]
    return removed


SERIES_MAX = 10000  # 90 days of a sample every 15 minutes is 8,640


def samples(engine_name, since=None):
    """The engine's samples since `since` (by default the kept window), oldest
    first, at most SERIES_MAX (the newest ones). A moment without a zone is UTC."""
    if since is not None and timezone.is_naive(since):
        since = timezone.make_aware(since, dt_timezone.utc)
    chosen = DiskSample.objects.filter(engine=engine_name, at__gte=since or sample_cutoff())
    newest = list(chosen.order_by("-at")[:SERIES_MAX])
    newest.reverse()
    return newest


def series(sample_list, detailed=True):
    """Samples as columns for a plot: {"at": [epoch seconds], "<kind>_<figure>": [...]};
    without `detailed`, the totals alone (what a viewer sees)."""
    columns = {"at": [int(sample.at.timestamp()) for sample in sample_list]}
    usages = [DiskUsage.from_sample(sample) for sample in sample_list]
    if detailed:
        for kind in KINDS:
            for figure in ("size", "reclaimable"):
                columns[f"{kind}_{figure}"] = [getattr(getattr(usage, kind), figure) for usage in usages]
    columns["total_size"] = [usage.size for usage in usages]
    columns["total_reclaimable"] = [usage.reclaimable for usage in usages]
    return columns


# What a page or the API shows ------------------------------------------------------

WINDOWS = {"1": 1, "7": 7, "30": 30, "90": 90}  # days a plot may span, as ?days= names them
DEFAULT_WINDOW = "7"
TABLE_ROWS = 48


def window_start(days_text):
    """The start of the window `?days=` names (DEFAULT_WINDOW when it names none); and its key."""
    key = days_text if days_text in WINDOWS else DEFAULT_WINDOW
    return timezone.now() - timedelta(days=WINDOWS[key]), key


@dataclass
class Plot:
    """One series' plot and the text table beside it: `key` names its columns in `series` (<key>_size,
    <key>_reclaimable); `rows` are (at, size, reclaimable)."""

    key: str
    title: str
    rows: list


def plots(sample_list, detailed=True, rows=TABLE_ROWS):
    """The plots of a section: one per kind and the total, or the total alone (what a viewer sees). Each table
    has at most `rows` rows, newest first, evenly spread over the samples (the newest always among them)."""
    newest_first = sample_list[::-1]
    step = max(1, -(-len(newest_first) // rows))
    shown = [(sample.at, DiskUsage.from_sample(sample)) for sample in newest_first[::step]]
    chosen = [(kind, f"{name}: size and reclaimable") for kind, name in KINDS.items()] if detailed else []
    made = [Plot(kind, title, [(at, getattr(usage, kind).size, getattr(usage, kind).reclaimable)
                               for at, usage in shown]) for kind, title in chosen]
    made.append(Plot("total", "Everything: size and reclaimable",
                     [(at, usage.size, usage.reclaimable) for at, usage in shown]))
    return made

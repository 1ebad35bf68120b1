"""Looking through everything Dockyard stored, for the checks every test ends with."""

from django.apps import apps
from django.db import connection, models

from images.models import AuditEntry, Job, Registry, TagMove

TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


def search_text_columns(needles, pattern):
    """(table, column, needle) for every text column of every table holding one
    of `needles`, or text matching `pattern`."""
    hits = []
    # SQLite's instr(haystack, needle) is PostgreSQL's strpos(haystack, needle).
    find = "strpos" if connection.vendor == "postgresql" else "instr"
    with connection.cursor() as cursor:
        for model in apps.get_models():
            if not model._meta.managed:
                continue
            table = model._meta.db_table
            for field in model._meta.concrete_fields:
                if not isinstance(field, TEXT_FIELDS):
                    continue
                column = connection.ops.quote_name(field.column)
                where = " OR ".join(f"{find}(CAST({column} AS TEXT), %s) > 0" for _ in needles)
                cursor.execute(f"SELECT CAST({column} AS TEXT) FROM {connection.ops.quote_name(table)} "
                               f"WHERE {where} OR CAST({column} AS TEXT) LIKE %s", [*needles, "%dky_%"])
                for (value,) in cursor.fetchall():
                    hits += [(table, field.column, needle) for needle in needles if needle in value]
                    hits += [(table, field.column, match) for match in pattern.findall(value)]
    return hits + _search_log_chunks(needles, pattern)


def _search_log_chunks(needles, pattern):
    """Output lines are stored compressed, out of SQL's sight: read back."""
    from images.jobs import logstore
    from images.models import LogChunk

    hits = []
    for data in LogChunk.objects.values_list("data", flat=True).iterator(chunk_size=50):
        text = logstore.text_bytes(data).decode("utf-8", "replace")
        hits += [("images_logchunk", "data", needle) for needle in needles if needle in text]
        hits += [("images_logchunk", "data", match) for match in pattern.findall(text)]
    return hits


# Engine calls that change something, and the audit actions that may account for each.
CHANGING_CALLS = {"tag_image": ("tag", "rollback", "commit"), "commit_container": ("commit",),
                  "remove_image": ("untag", "remove"),
                  "prune_images": ("prune",), "prune_build_cache": ("prune-build-cache",),
                  "login": ("registry-login",)}


def watch_engine_changes(monkeypatch):
    """Note each changing call made through images.engine in this process (and
    let it through): the list fills as the test runs."""
    from images.engine import Engine

    calls = []
    for name in CHANGING_CALLS:
        original = getattr(Engine, name)

        def watched(engine, *args, _name=name, _original=original, **kwargs):
            calls.append((_name, args))
            return _original(engine, *args, **kwargs)

        monkeypatch.setattr(Engine, name, watched)
    return calls


def _call_target(name, args):
    if name == "tag_image":
        return f"{args[1]}:{args[2]}"
    if name in ("remove_image", "login"):
        return args[0]
    return None  # a prune's target is its scope, in words


def unaudited_changes(engine_changes=()):
    """Changes Dockyard made that have no audit entry to show for them."""
    missing = []
    for name, args in engine_changes:
        entries = AuditEntry.objects.filter(action__in=CHANGING_CALLS[name])
        target = _call_target(name, args)
        if not (entries.filter(target=target) if target else entries).exists():
            missing.append(f"engine {name}{args}")
    for job in Job.objects.all():
        entry = AuditEntry.objects.filter(job=job, action__in=(job.kind, "rebuild")).first()
        if entry is None:
            missing.append(f"job {job.pk} ({job.kind})")
        elif job.is_final and entry.outcome != job.state:
            missing.append(f"job {job.pk} ended {job.state}, audited {entry.outcome}")
    for move in TagMove.objects.exclude(by=None):
        if not AuditEntry.objects.filter(action__in=("tag", "rollback", "commit"), target=move.tag,
                                         actor=move.by).exists():
            missing.append(f"{move.action} of {move.tag} by {move.by}")
    for registry in Registry.objects.all():
        if not AuditEntry.objects.filter(action="registry-add", target=registry.address).exists():
            missing.append(f"registry {registry.address}")
    return missing

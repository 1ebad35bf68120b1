"""The audit log: one entry per change asked of Dockyard, and per refusal.

`record` is called where the change is made (jobs, lifecycle, the registry,
token and user views). The address and channel of the request come from
`AuditContextMiddleware`, so the functions that change things need no request.
Only names and targets are written: never a password, token or build-arg value.
"""

import contextvars
import csv
import json
from contextlib import contextmanager
from functools import reduce
from operator import or_

from django.contrib.auth.signals import user_login_failed
from django.db.models import Q
from django.dispatch import receiver

from images import engines
from images.accounts.addresses import client_address
from images.models import AuditEntry

OK, FAILED, DENIED, REFUSED, QUEUED = "ok", "failed", "denied", "refused", "queued"
DOCKYARD = "dockyard"  # the actor named for what Dockyard does by itself for no one

# The action a refused permission would have been, where it is not the permission's own name.
_ACTION_OF_PERMISSION = {"cancel_own_job": "cancel", "cancel_any_job": "cancel", "manage_registries": "registry",
                         "manage_users": "user", "read_audit": "audit", "manage_hooks": "hook"}

_context = contextvars.ContextVar("dockyard_audit_context", default={"address": None, "via": "cli"})


def action_for(codename):
    return _ACTION_OF_PERMISSION.get(codename, codename)


def record(user, action, target="", outcome=OK, detail="", job=None):
    context = _context.get()
    authenticated = user is not None and user.is_authenticated
    # No one asked for what Dockyard does by itself on no one's behalf (a webhook delivery): it is Dockyard's.
    nobody = DOCKYARD if user is None and context["via"] == "auto" else "anonymous"
    return AuditEntry.objects.create(
        actor=user if authenticated else None,
        actor_name=user.get_username() if authenticated else nobody,
        action=action, target=str(target)[:600], outcome=outcome, detail=detail, job=job,
        address=context["address"], via=context["via"], engine=job.engine if job else engines.active(),
    )


@contextmanager
def recorded(user, action, target="", detail=""):
    """Record the change made in the block: ok if it returns, failed (with the
    error) if it raises. The block may set `entry["detail"]`."""
    entry = {"detail": detail}
    try:
        yield entry
    except Exception as exc:
        record(user, action, target, FAILED, detail="; ".join(filter(None, [entry["detail"], str(exc)])))
        raise
    record(user, action, target, OK, detail=entry["detail"])


class AuditContextMiddleware:
    """Remember the request's address and channel for the entries it causes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if getattr(request, "token_auth", False):
            via = "token"
        else:
            via = "api" if request.path_info.startswith("/api/") else "web"
        token = _context.set({"address": client_address(request), "via": via})
        try:
            return self.get_response(request)
        finally:
            _context.reset(token)


@contextmanager
def acting_by_itself():
    """Entries written in the block are Dockyard's own doing (via "auto"), such as
    an index started after a build, not a command line's."""
    token = _context.set({"address": None, "via": "auto"})
    try:
        yield
    finally:
        _context.reset(token)


def use_context(address, via):
    """The address and channel for entries written from here on in this task or
    thread, where no request passes AuditContextMiddleware (a websocket)."""
    _context.set({"address": address, "via": via})


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # Django has already replaced the password in `credentials` with stars; only the name is kept.
    record(None, "login", str(credentials.get("username", ""))[:150], FAILED, detail="wrong user name or password")


# Reading ------------------------------------------------------------------------

SEARCHED = ("actor_name", "target", "detail", "address")  # as the admin page searches


def entries(outcome="", action="", via="", actor="", q="", since=None, until=None, engine=""):
    """The log filtered as the audit page filters it, newest first: exact
    outcome, action, channel, actor and engine; each word of `q` somewhere in who,
    target, detail or address; `since` <= when < `until`."""
    selected = AuditEntry.objects.all()
    for field, value in (("outcome", outcome), ("action", action), ("via", via), ("actor_name", actor),
                         ("engine", engine)):
        if value:
            selected = selected.filter(**{field: value})
    for word in q.split():
        selected = selected.filter(reduce(or_, (Q(**{f"{field}__icontains": word}) for field in SEARCHED)))
    if since:
        selected = selected.filter(at__gte=since)
    if until:
        selected = selected.filter(at__lt=until)
    return selected


def values_of(field):
    """The distinct values the log holds for `field`, for the page's choices."""
    return list(AuditEntry.objects.order_by(field).values_list(field, flat=True).distinct())


# Export -------------------------------------------------------------------------

FIELDS = ["id", "at", "actor", "action", "target", "outcome", "detail", "job", "address", "via", "engine"]


def _row(entry):
    return {
        "id": entry.pk, "at": entry.at.isoformat(), "actor": entry.actor_name, "action": entry.action,
        "target": entry.target, "outcome": entry.outcome, "detail": entry.detail, "job": entry.job_id,
        "address": entry.address, "via": entry.via, "engine": entry.engine,
    }


class _Echo:
    def write(self, value):
        return value


def _spreadsheet_safe(value):
    # A cell starting with = + - @ is a formula to a spreadsheet; user names and targets are not trusted.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_lines(entries):
    writer = csv.writer(_Echo())
    yield writer.writerow(FIELDS)
    for entry in entries.iterator(chunk_size=2000):
        row = _row(entry)
        yield writer.writerow([_spreadsheet_safe(row[name]) for name in FIELDS])


def jsonl_lines(entries):
    for entry in entries.iterator(chunk_size=2000):
        yield json.dumps(_row(entry), ensure_ascii=False) + "\n"

"""Roles: viewer, builder and admin, as Django groups holding Dockyard's permissions.

Every view declares the permission it needs with `@requires(...)`; the API,
the websocket consumers and the worker ask `may(...)` with the same names, so
a role means the same thing wherever a request comes in. A superuser has
every permission, as everywhere in Django.

A role may also be granted on one engine (`EngineRole`: viewer on production,
builder on staging), on top of the global one: on that engine the user may
what either role allows. Checks are of the engine the code works on
(`images.engines.active()`: the request's, the job's) unless told another.
"""

import functools

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied

from images import engines
from images.accounts import audit
from images.accounts.permissions import ADMIN, BUILDER, PERMISSIONS, ROLES, VIEWER
from images.models import EngineRole

# The group of accounts that may log in with a password when DOCKYARD_LOCAL_LOGIN is off.
BREAK_GLASS = "break-glass"

# What a refusal names where a permission allows more than its description says.
SEE_BUILD_CACHE = "see the build cache"
PRUNE_BUILD_CACHE = "prune the build cache"
INDEX_FILES = "index an image's files"
KEEP_TOKENS = "keep API tokens"

# Admins also manage accounts in Django's admin site, with Django's own permissions.
ADMIN_AUTH_PERMISSIONS = ["add_user", "change_user", "view_user", "view_group"]
# And the roles on one engine (images.EngineRole), there too.
ADMIN_ENGINE_ROLE_PERMISSIONS = ["add_enginerole", "change_enginerole", "delete_enginerole", "view_enginerole"]
ROLE_HELP = {
    VIEWER: "browses images, jobs and logs",
    BUILDER: "also builds, pulls, pushes, tags, exports, runs and commits containers, cancels own jobs, keeps own "
             "build secrets, sees the build cache",
    ADMIN: "also removes, prunes, manages registries, shared secrets, webhooks, users and anyone's jobs, reads the audit log",
}

# The permission a job of each kind needs, to start, retry and run.
# Indexing an image's files reads its whole save stream: those who make images may.
JOB_PERMISSION = {"build": "build", "pull": "pull", "push": "push", "import": "build", "index": "build", "run": "run",
                  "retention": "prune"}


def may(user, codename, engine=None):
    """Whether `user` may `codename` on `engine` (a name; by default the active one)."""
    if not (user and user.is_active):
        return False
    if user.has_perm(f"images.{codename}"):
        return True
    role = engine_role(user, engine or engines.active())
    return role is not None and codename in ROLES[role]


def engine_role(user, engine):
    """The role `user` was granted on the engine named `engine` alone, or None.
    Read once per user object, as Django caches its permissions."""
    if not user.is_authenticated:
        return None
    granted = getattr(user, "_dockyard_engine_roles", None)
    if granted is None:
        granted = dict(EngineRole.objects.filter(user=user).values_list("engine", "role"))
        user._dockyard_engine_roles = granted
    return granted.get(engine)


def engines_where(user, codename):
    """The names of the configured engines on which `user` may `codename`."""
    return [name for name in engines.names() if may(user, codename, name)]


def role_of(user):
    """The highest global role a user has, or None."""
    if user.is_superuser:
        return ADMIN
    # .all(), not values_list: a list of accounts prefetches their groups.
    names = {group.name for group in user.groups.all()}
    for role in (ADMIN, BUILDER, VIEWER):
        if role in names:
            return role
    return None


def may_cancel(user, job):
    if may(user, "cancel_any_job", job.engine):
        return True
    return may(user, "cancel_own_job", job.engine) and job.created_by_id == user.pk


def may_run(user, kind, engine=None):
    return may(user, JOB_PERMISSION[kind], engine)


def may_retry(user, job):
    """Retrying runs the job's recipe (its build args, its uploaded context) again:
    it follows cancel, and needs the permission its kind needs to start."""
    return may_cancel(user, job) and may_run(user, job.kind, job.engine)


class Refused(PermissionDenied):
    """A user's role does not allow an action; the message says which role would."""

    def __init__(self, user, codename, action=None, engine=None):
        self.codename = codename
        engine = engine or engines.active()
        role = role_of(user) if user.is_authenticated else None
        on_engine = engine_role(user, engine) if user.is_authenticated else None
        needed = next(name for name in (VIEWER, BUILDER, ADMIN) if codename in ROLES[name])
        what = action or PERMISSIONS[codename][0].lower() + PERMISSIONS[codename][1:]
        if on_engine:
            mine = f"Your role on the engine {engine} ({on_engine})" + (f" and your role ({role})" if role else "")
        else:
            mine = f"Your role ({role})" if role else "Your account has no role yet, and"
        where = f" on the engine {engine}" if len(engines.names()) > 1 else ""
        super().__init__(f"{mine} does not allow this{where}: {what} needs the {needed} role. Ask a Dockyard admin.")


def check(user, codename, action=None, target="", audited_as=None, engine=None):
    """Raise Refused (and record it in the audit log, as `audited_as` or the
    permission's own action) unless `user` may `codename` on `engine`."""
    if not may(user, codename, engine):
        audit.record(user, audited_as or audit.action_for(codename), target, audit.DENIED, detail=f"needs {codename}")
        raise Refused(user, codename, action, engine)


def requires(codename, action=None):
    """View decorator: the view runs only for users with images.<codename>. A
    refusal names `action` (what the view does) where the permission's own
    description would name something else."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            check(request.user, codename, action, target=request.path)
            return view(request, *args, **kwargs)

        wrapper.dockyard_permission = codename
        wrapper.dockyard_action = action
        return wrapper

    return decorate


def may_use_password(user):
    """Whether `user` may log in with a password: always, unless DOCKYARD_LOCAL_LOGIN is off and
    the account is not break-glass."""
    return settings.DOCKYARD_LOCAL_LOGIN or user.groups.filter(name=BREAK_GLASS).exists()


def assign(user, role):
    """Give `user` exactly one role (or none). Admins may enter Django's admin site."""
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    if role:
        user.groups.add(Group.objects.get(name=role))
    user.is_staff = role == ADMIN or user.is_superuser
    user.save(update_fields=["is_staff"])


def ensure_groups(**kwargs):
    """Create the three groups with their permissions (after every migrate)."""
    by_code = {perm.codename: perm for perm in Permission.objects.filter(content_type__app_label="images",
                                                                         codename__in=PERMISSIONS)}
    if len(by_code) < len(PERMISSIONS):
        return  # permissions are created by an earlier post_migrate handler; it runs again
    auth = list(Permission.objects.filter(content_type__app_label="auth", codename__in=ADMIN_AUTH_PERMISSIONS))
    auth += list(Permission.objects.filter(content_type__app_label="images",
                                           codename__in=ADMIN_ENGINE_ROLE_PERMISSIONS))
    for role, codes in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = [by_code[code] for code in codes] + (auth if role == ADMIN else [])
        group.permissions.set(perms)
    # No permissions: it only marks accounts that keep their password login with DOCKYARD_LOCAL_LOGIN off.
    Group.objects.get_or_create(name=BREAK_GLASS)

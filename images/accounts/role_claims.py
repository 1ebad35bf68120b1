"""Roles from an identity provider's claims: the mapping from group names to
Dockyard roles (DOCKYARD_OIDC_ROLES), read at start-up, and the roles a set of
groups earns under it. Pure: no database, so settings can parse with it."""

from django.core.exceptions import ImproperlyConfigured

from images.accounts.permissions import ADMIN, BUILDER, ROLES, VIEWER

# The key of the global role in a {engine or GLOBAL: role} map; no engine may be named "".
GLOBAL = ""
_RANK = {VIEWER: 1, BUILDER: 2, ADMIN: 3}


def parse_mapping(raw, engine_names):
    """'dockyard-admins=admin, team-a=builder@staging' as [(group, role, engine or GLOBAL)].
    An unknown role or engine, or an entry that is not group=role, is refused."""
    mapping = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        group, sep, granted = item.rpartition("=")
        group = group.strip()
        role, _, engine = granted.strip().partition("@")
        if not sep or not group:
            raise ImproperlyConfigured(f"DOCKYARD_OIDC_ROLES: {item!r} is not group=role or group=role@engine")
        if role not in ROLES:
            raise ImproperlyConfigured(f"DOCKYARD_OIDC_ROLES: {item!r} names the role {role!r}; the roles are "
                                       f"{', '.join(ROLES)}")
        if engine and engine not in engine_names:
            raise ImproperlyConfigured(f"DOCKYARD_OIDC_ROLES: {item!r} names the engine {engine!r}, which is not in "
                                       f"DOCKYARD_ENGINES ({', '.join(engine_names)})")
        mapping.append((group, role, engine or GLOBAL))
    return mapping


def groups_in(claims, claim_name):
    """The group names a claim holds: a list of strings (or one string). Anything
    else a provider sends there counts as no group: a role is never guessed."""
    value = claims.get(claim_name)
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {item for item in value if isinstance(item, str)}
    return set()


def roles_for(groups, mapping):
    """{GLOBAL or engine: the highest role the groups earn there}; absent where none."""
    earned = {}
    for group, role, where in mapping:
        if group in groups and _RANK[role] > _RANK.get(earned.get(where), 0):
            earned[where] = role
    return earned

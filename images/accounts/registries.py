"""Registry logins: saved, deleted and tried, each audited; the password never is."""

from images.accounts import audit
from images.engine import EngineError


def save_registry(form, user):
    """Save a valid RegistryForm; the audit names what changed, and of the
    password only that it changed."""
    creating = form.instance.pk is None
    changed = [name for name in form.changed_data if name != "password"]
    if form.cleaned_data.get("password"):
        changed.append("password (not recorded)")
    registry = form.save()
    audit.record(user, "registry-add" if creating else "registry-change", registry.address,
                 detail=f"user {registry.username}; changed {', '.join(changed) or 'nothing'}")
    return registry


def delete_registry(registry, user):
    registry.delete()
    audit.record(user, "registry-delete", registry.address, detail=f"user {registry.username}")


def try_login(engine, registry, user):
    """Log the engine in with the stored login: None, or why not (the engine's
    message names the registry and the reason, never the password)."""
    auth = registry.auth_config()
    try:
        with audit.recorded(user, "registry-login", registry.address, detail=f"as {registry.username}"):
            engine.login(registry.address, auth["username"], auth["password"])
    except EngineError as exc:
        return str(exc)
    return None

"""Registry logins: saved, deleted and tried, each audited; the password never is;
and handed to the engine for the builds that pull from those registries."""

from images.accounts import audit
from images.engine import EngineError
from images.models import DOCKER_HUB_HOSTS, Registry

# The key the classic builder looks Docker Hub's login up by in X-Registry-Config.
DOCKER_HUB_KEY = "https://index.docker.io/v1/"


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


def login_for_host(host):
    """(username, password) stored for a registry host as the engine names it
    (a BuildKit session's Credentials call), or None."""
    registry = Registry.for_host(host)
    if registry is None:
        return None
    auth = registry.auth_config()
    return auth["username"], auth["password"]


def logins_for_hosts(hosts):
    """The classic builder's X-Registry-Config: {address: auth_config} of the
    stored logins of these registry hosts, and no others."""
    addresses = {DOCKER_HUB_HOSTS.get(host.lower(), host.lower()) for host in hosts}
    config = {}
    for registry in Registry.objects.filter(address__in=addresses):
        config[registry.address] = registry.auth_config()
        if registry.address == "docker.io":
            config[DOCKER_HUB_KEY] = config[registry.address]
    return config

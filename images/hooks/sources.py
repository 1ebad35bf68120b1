"""Hook sources, made and deleted by admins, each change audited. The secret is
made here and handed back once; only its encryption is stored."""

from images.accounts import audit
from images.hooks import signatures


def add_source(form, user):
    """Save a valid HookSourceForm; return (source, its secret, shown only now)."""
    source = form.save(commit=False)
    if source.run_as_id is None:
        source.run_as = user
    secret = signatures.new_secret()
    source.set_secret(secret)
    source.save()
    audit.record(user, "hook-add", _target(source), detail=_detail(source))
    return source, secret


def change_source(form, user):
    source = form.save()
    changed = ", ".join(form.changed_data) or "nothing"
    audit.record(user, "hook-change", _target(source), detail=f"{_detail(source)}; changed {changed}")
    return source


def new_secret(source, user):
    """Replace a source's secret; return the new one, shown only now."""
    secret = signatures.new_secret()
    source.set_secret(secret)
    source.save(update_fields=["secret_encrypted"])
    audit.record(user, "hook-secret", _target(source), detail="a new secret (not recorded)")
    return secret


def delete_source(source, user):
    target, detail = _target(source), _detail(source)
    source.delete()
    audit.record(user, "hook-delete", target, detail=detail)


def _target(source):
    return f"hook {source.pk} {source.name}"


def _detail(source):
    return (f"{source.get_provider_display()} {source.repository} branch {source.branch} rebuilds job "
            f"{source.recipe_id} as {source.run_as.get_username()}{'' if source.enabled else ' (disabled)'}")

"""Build secrets: values a BuildKit build mounts with `RUN --mount=type=secret,id=...`.

A builder keeps secrets of their own; admins keep shared ones, which every
builder may build with. A build chooses secrets by id; its job keeps the ids
only, and the worker reads the values when the build runs, for the person the
job runs as, and hands them to the build's session. Where an own secret and a
shared one have the same id, the own one is used. Every change is audited by
id; a value is never shown, returned, logged or recorded again.

The pages and the API call these functions; SSH agent forwarding
(`--mount=type=ssh`) is not offered.
"""

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404

from images.accounts import audit, roles
from images.builds.contexts import ContextError
from images.models import BuildSecret


class SecretUnavailable(ContextError):
    """A build chose a secret that is gone, or that its runner may not use."""


def normalized_value(value):
    # A browser sends a textarea's line breaks as CRLF, whatever was pasted.
    return value.replace("\r\n", "\n")


def own(user):
    return BuildSecret.objects.filter(owner=user)


def shared():
    return BuildSecret.objects.filter(owner=None)


def may_keep(user):
    return roles.may(user, "keep_secrets")


def may_share(user):
    return roles.may(user, "manage_shared_secrets")


def usable_names(user):
    """The ids `user` may choose for a build: their own and the shared ones."""
    if not may_keep(user):
        return []
    return sorted(set(_usable(user).values_list("name", flat=True)))


def secret_for(user, pk):
    """A secret `user` may change: their own, or a shared one for an admin.
    Any other is 404, so ids of others' secrets are not confirmed."""
    secret = BuildSecret.objects.filter(pk=pk).first()
    if secret is None or not (secret.owner_id == user.pk or (secret.shared and may_share(user))):
        raise Http404("No such secret of yours.")
    return secret


def add_secret(user, name, value, share=False):
    """Store a new secret of `user`'s, or a shared one (admins). Raise
    ValueError if one with this id is already there."""
    roles.check(user, "manage_shared_secrets" if share else "keep_secrets", target=name,
                audited_as="secret-add")
    secret = BuildSecret(owner=None if share else user, name=name)
    secret.set_value(normalized_value(value))
    try:
        with transaction.atomic():
            secret.save()
    except IntegrityError:
        where = "A shared secret" if share else "You already have a secret"
        raise ValueError(f"{where} with the id {name} exists: replace its value instead.") from None
    audit.record(user, "secret-add", _target(secret), detail=_scope(secret))
    return secret


def replace_value(user, secret, value):
    secret.set_value(normalized_value(value))
    secret.save(update_fields=["value_encrypted", "updated_at"])
    audit.record(user, "secret-change", _target(secret), detail=f"{_scope(secret)}; value replaced (not recorded)")
    return secret


def delete_secret(user, secret):
    secret.delete()
    audit.record(user, "secret-delete", _target(secret), detail=_scope(secret))


def values_for_build(user, names):
    """{id: value bytes} of the secrets a job chose, as `user` (whom the job
    runs as) may use them now: a secret deleted since, or no longer theirs to
    use, stops the build before it starts."""
    names = list(dict.fromkeys(names or []))
    if not names:
        return {}
    if not may_keep(user):
        raise SecretUnavailable(f"This build chose the secrets {', '.join(names)}, and its account may no longer "
                                "build with secrets.")
    found = {}
    for secret in _usable(user).filter(name__in=names):
        if secret.name not in found or not secret.shared:
            found[secret.name] = secret
    missing = [name for name in names if name not in found]
    if len(missing) == 1:
        raise SecretUnavailable(f"This build chose the secret {missing[0]}, which is not among yours or the shared "
                                "ones any more (see the Secrets page).")
    if missing:
        raise SecretUnavailable(f"This build chose the secrets {', '.join(missing)}, which are not among yours or "
                                "the shared ones any more (see the Secrets page).")
    return {name: found[name].value() for name in names}


def _usable(user):
    return BuildSecret.objects.filter(Q(owner=None) | Q(owner=user))


def _target(secret):
    return f"secret {secret.name}"


def _scope(secret):
    return "shared" if secret.shared else f"own, of {secret.owner.get_username()}"

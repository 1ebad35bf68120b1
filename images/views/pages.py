"""What every page view shares: the pager, the websocket address, the engine picker."""

from django.core.paginator import Paginator


def page_of(request, items, per_page):
    """The page of `items` the request asks for (`?page=`, the last for one too
    far), and the query string without it (or `?fragment=`) for the pager's links."""
    page = Paginator(items, per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("fragment", None)  # a fragment's pager links lead to pages
    return page, query.urlencode()


def websocket_url(request, path):
    """The same host's websocket address for `path`, wss behind TLS."""
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}{path}"


class _EnginePerms:
    """The template's `perms`, as Django's PermWrapper reads them, but by the
    roles on the page's engine too (`perms.images.build` on staging for a
    builder there)."""

    def __init__(self, user, engine):
        self.user, self.engine = user, engine

    def __getitem__(self, app_label):
        return _EngineAppPerms(self, app_label)

    def __contains__(self, name):
        app_label, _, codename = name.partition(".")
        return self[app_label][codename]

    def __iter__(self):
        raise TypeError("Permissions are looked up by name, not listed.")


class _EngineAppPerms:
    def __init__(self, perms, app_label):
        self.perms, self.app_label = perms, app_label

    def __getitem__(self, codename):
        from images.accounts import roles

        if self.app_label == "images" and codename in roles.PERMISSIONS:
            return roles.may(self.perms.user, codename, self.perms.engine)
        return self.perms.user.has_perm(f"{self.app_label}.{codename}")

    def __bool__(self):
        from images.accounts import roles

        if self.app_label == "images":
            return any(self[codename] for codename in roles.PERMISSIONS)
        return self.perms.user.has_module_perms(self.app_label)


def engine_context(request):
    """For every page: its engine, the header's engine picker (the engines the
    user may browse, each at its image list) and `perms` by the page's engine."""
    from images import engines
    from images.accounts import roles

    user = getattr(request, "user", None)
    name = getattr(request, "engine_name", None)
    if user is None or name is None or not user.is_authenticated:
        return {}
    choices = [{"name": other, "url": engines.reverse_on(other, "images-list"), "current": other == name}
               for other in roles.engines_where(user, "browse")]
    return {"engine_name": name, "engine_choices": choices if len(engines.names()) > 1 else [],
            "perms": _EnginePerms(user, name)}

"""What every page view shares: the pager and the websocket address."""

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

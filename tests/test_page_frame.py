"""What every page's frame carries: the site's icon (no 404 per page) and the
header's search box, whether one engine is configured or several."""

from django.contrib.staticfiles import finders
from django.urls import reverse


def test_every_page_names_an_icon_that_is_served(owner_client):
    body = owner_client.get(reverse("jobs-list")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in body
    assert finders.find("favicon.svg")


def test_the_header_search_is_there_with_one_engine(owner_client, settings):
    body = owner_client.get(reverse("jobs-list")).content.decode()
    assert f'action="{reverse("images-search")}" role="search"' in body
    assert 'aria-label="Find an image"' in body  # one engine: no "on any engine"

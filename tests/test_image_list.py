import html
import re
import uuid

import pytest
from django.urls import reverse

from tests import dockerlib
from tests.conftest import make_user


@pytest.fixture(scope="module")
def shelf(base_image):
    """Images made for the list: one image under two tags, a larger image used
    by a stopped container, and a dangling image."""
    run = uuid.uuid4().hex[:8]
    alpha_repo = f"{dockerlib.PREFIX}/alpha-{run}"
    beta_repo = f"{dockerlib.PREFIX}/beta-{run}"
    beta_tag = f"release-{run}"  # found by a search for the tag alone, which no repository name holds
    alpha = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL run=alpha-{run}\n",
                            tags=[f"{alpha_repo}:1", f"{alpha_repo}:2"])
    beta = dockerlib.build(
        f"FROM {dockerlib.BASE_IMAGE}\nRUN dd if=/dev/zero of=/big bs=1024 count=400\nLABEL run=beta-{run}\n",
        tags=[f"{beta_repo}:{beta_tag}"],
    )
    dangling = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL run=dangling-{run}\n")
    dockerlib.docker("create", "--label", f"{dockerlib.TEST_LABEL}=1", "--name", f"dockyard-test-{run}", beta)
    return {"run": run, "alpha_repo": alpha_repo, "beta_repo": beta_repo, "beta_tag": beta_tag,
            "alpha": alpha, "beta": beta, "dangling": dangling}


def rows(response):
    """The image table's rows as (repository, tag, short id, size, containers) text."""
    page = response.content.decode()
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    found = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                 for cell in re.findall(r'<td(?! class="select")[^>]*>(.*?)</td>', row, re.S)]  # not the checkbox
        found.append((cells[0], cells[1], cells[2], cells[4], cells[5]))
    return found


def short(image_id):
    return image_id.split(":", 1)[1][:12]


def list_page(client, **params):
    response = client.get(reverse("images-list"), params)
    assert response.status_code == 200
    return response


def test_it_lists_one_row_per_tag(owner_client, shelf):
    response = list_page(owner_client, q=shelf["alpha_repo"])
    found = rows(response)
    assert response.content.decode().count(f'href="{reverse("images-detail", args=[shelf["alpha"][7:]])}"') == 2
    assert sorted((r[0], r[1]) for r in found) == [(shelf["alpha_repo"], "1"), (shelf["alpha_repo"], "2")]
    assert {r[2] for r in found} == {short(shelf["alpha"])}


def test_it_shows_sizes_as_the_cli_does(owner_client, shelf):
    found = rows(list_page(owner_client, q=shelf["beta_repo"]))
    cli = dockerlib.docker("images", "--format", "{{.Size}}", f"{shelf['beta_repo']}:{shelf['beta_tag']}").strip()
    assert [r[3] for r in found] == [cli]


def test_it_searches_by_tag_and_by_id(owner_client, shelf):
    by_id = rows(list_page(owner_client, q=short(shelf["beta"])[2:10]))
    assert [(r[0], r[1]) for r in by_id] == [(shelf["beta_repo"], shelf["beta_tag"])]
    by_tag = rows(list_page(owner_client, q=shelf["beta_tag"].upper(), state=""))
    assert [(r[0], r[1]) for r in by_tag] == [(shelf["beta_repo"], shelf["beta_tag"])]


def test_it_shows_dangling_images_as_their_own_rows(owner_client, shelf):
    found = rows(list_page(owner_client, state="dangling"))
    mine = [r for r in found if r[2] == short(shelf["dangling"])]
    assert len(mine) == 1
    assert mine[0][0] == "<none>" and mine[0][1] == "dangling"
    assert all(r[1] == "dangling" for r in found)


def test_it_counts_stopped_containers_as_use(owner_client, shelf):
    in_use = rows(list_page(owner_client, q=shelf["run"], state="in-use"))
    assert [(r[0], r[4]) for r in in_use] == [(shelf["beta_repo"], "1")]
    unused = rows(list_page(owner_client, q=shelf["run"], state="unused"))
    assert sorted(r[0] for r in unused) == [shelf["alpha_repo"], shelf["alpha_repo"]]


def test_it_sorts_by_name_size_and_created(owner_client, shelf):
    by_name = rows(list_page(owner_client, q=shelf["run"], sort="name"))
    assert [(r[0], r[1]) for r in by_name] == [
        (shelf["alpha_repo"], "1"), (shelf["alpha_repo"], "2"), (shelf["beta_repo"], shelf["beta_tag"]),
    ]
    by_size = rows(list_page(owner_client, q=shelf["run"], sort="-size"))
    assert by_size[0][0] == shelf["beta_repo"]
    oldest_first = rows(list_page(owner_client, q=shelf["run"], sort="created"))
    assert oldest_first[-1][0] == shelf["beta_repo"]  # built after alpha
    newest_first = rows(list_page(owner_client, q=shelf["run"], sort="-created"))
    assert newest_first[0][0] == shelf["beta_repo"]


def test_it_totals_images_like_the_cli(owner_client, shelf):
    # Other test runs change the engine's images meanwhile: compared with a moment that has the page's images.
    response, engine = dockerlib.beside_the_engine(lambda: list_page(owner_client), lambda response: {
        row.image_id for row in response.context["page"].paginator.object_list})
    assert f"<strong>{len(engine['ids'])}</strong> image" in response.content.decode()


def test_it_paginates(owner_client, shelf, settings):
    settings.DOCKYARD_IMAGES_PER_PAGE = 2
    first = list_page(owner_client, q=shelf["run"], sort="name")
    assert len(rows(first)) == 2
    assert "Rows 1–2 of 3" in first.content.decode()
    second = list_page(owner_client, q=shelf["run"], sort="name", page=2)
    assert [(r[0], r[1]) for r in rows(second)] == [(shelf["beta_repo"], shelf["beta_tag"])]


def test_it_ignores_unknown_sort_and_filter_values(owner_client, shelf):
    found = rows(list_page(owner_client, q=shelf["run"], sort="drop table", state="bogus"))
    assert len(found) == 3


def live_part(page, element_id):
    """The element with this id, whole, from a page or fragment (the live parts nest no tag of their own kind)."""
    tag = re.search(rf'<(\w+) [^>]*id="{element_id}"', page)[1]
    return re.search(rf'<{tag} [^>]*id="{element_id}".*?</{tag}>', page, re.S)[0]


def same_but_numbers(totals):
    return re.sub(r"\d+", "N", re.sub(r'\s*<span class="size-stale">.*?</span>', "", totals))


def test_its_live_fragment_is_the_pages_live_parts_only(owner_client, shelf, settings):
    settings.DOCKYARD_IMAGES_PER_PAGE = 2
    page = list_page(owner_client, q=shelf["run"], sort="name", page=2).content.decode()
    fragment = list_page(owner_client, q=shelf["run"], sort="name", page=2, fragment="live").content.decode()
    assert live_part(fragment, "image-table") == live_part(page, "image-table")
    # The totals count the whole engine, which other test runs may change between the two requests
    # (and the bytes on disk may be counted in between: the figure said to be stale is left out).
    assert same_but_numbers(live_part(fragment, "image-totals")) == same_but_numbers(live_part(page, "image-totals"))
    assert [(r[0], r[1]) for r in rows(list_page(owner_client, q=shelf["run"], sort="name", page=2,
                                                 fragment="live"))] == [(shelf["beta_repo"], shelf["beta_tag"])]
    assert "<html" not in fragment and "<header" not in fragment and 'id="live"' not in fragment
    assert len(re.findall(r"data-live\b", fragment)) == 2
    # Its pager links lead to pages, not to fragments.
    assert "fragment" not in live_part(fragment, "image-table")


def test_it_shows_each_role_only_the_controls_it_may_use(client, db, shelf):
    for username, role, may_import, may_remove in (("viewer", "viewer", False, False),
                                                   ("builder", "builder", True, False),
                                                   ("owner", "admin", True, True)):
        client.force_login(make_user(username, role))
        response = list_page(client, q=shelf["run"])
        page = response.content.decode()
        assert len(rows(response)) == 3
        assert ('href="/import/"' in page) == may_import, role
        assert ("Prune…" in page) == may_remove, role
        assert ("Remove selected" in page) == may_remove, role
        # The checkboxes only serve removal: one a row for those who may remove, none for the others.
        assert page.count('type="checkbox" name="image"') == (3 if may_remove else 0), role
        assert ('id="image-selection"' in page) == may_remove, role
        assert (">Select<" in page) == may_remove, role


def test_it_needs_a_login(client, db):
    response = client.get(reverse("images-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))

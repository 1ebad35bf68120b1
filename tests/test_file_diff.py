"""The diff of two images: configuration, layers and files, and the links to it
from the tag history and from a build's page."""

import pytest
from django.urls import reverse

from images.files import diff
from images.files.entries import display
from images.models import Job, TagMove
from tests import dockerlib, live, savedlayers

pytestmark = pytest.mark.usefixtures("worker")

COMMON = "FROM {base}\nRUN mkdir -p /srv/keep && echo base > /srv/common && echo k > /srv/keep/k\n"
ONE = "RUN echo one > /srv/x && mkdir /srv/a && touch /srv/a/in\n"
OTHER = "RUN echo twotwo > /srv/x && touch /srv/b && rm /srv/common && chmod 700 /srv/keep\n"


@pytest.fixture(scope="module")
def pair(base_image):
    repo = dockerlib.unique("diff")
    common = COMMON.format(base=dockerlib.BASE_IMAGE)
    a = dockerlib.build(common + ONE, tags=[f"{repo}:1"])
    b = dockerlib.build(common + OTHER, tags=[f"{repo}:2"])
    return {"repo": repo, "a": a, "b": b, "a_layers": savedlayers.saved_layers(a), "b_layers": savedlayers.saved_layers(b)}


def index(client, image_id):
    job = live.job_from(client.post(reverse("files-index", args=[image_id.split(":")[1]])))
    live.wait_for_job(job)
    assert job.state == "succeeded", job.error


def touched_by_the_run(pair):
    """What the one RUN that differs wrote, on either side, as paths: its files and
    whiteouts, and the directories only one side has (a directory both have, with
    the same mode and owner, differs only by the mtime its new files gave it)."""
    a_final = savedlayers.filesystems(pair["a_layers"])[-1]
    b_final = savedlayers.filesystems(pair["b_layers"])[-1]
    touched = set()
    for layer in (pair["a_layers"][-1], pair["b_layers"][-1]):
        for path, kind, *_ in layer:
            base = path.rsplit(b"/", 1)[-1]
            if base.startswith(b".wh."):
                path = path.rsplit(b"/", 1)[0] + b"/" + base[4:]
            elif kind == b"5" and path in a_final and path in b_final and a_final[path][3:6] == b_final[path][3:6]:
                continue
            touched.add("/" + display(path))
    return touched


def test_the_diff_lists_exactly_what_the_differing_run_touched(builder_client, pair):
    index(builder_client, pair["a"])
    index(builder_client, pair["b"])
    comparison = diff.compare(live_engine(), f"{pair['repo']}:1", f"{pair['repo']}:2")
    changes = {change.path: change for change in comparison.files}
    assert set(changes) == touched_by_the_run(pair) == {"/srv/x", "/srv/a", "/srv/a/in", "/srv/b", "/srv/common",
                                                       "/srv/keep"}
    assert changes["/srv/x"].change == "changed" and changes["/srv/x"].size_change == 3
    assert "size" in changes["/srv/x"].what
    assert changes["/srv/a"].change == changes["/srv/a/in"].change == changes["/srv/common"].change == "removed"
    assert changes["/srv/b"].change == "added"
    assert changes["/srv/keep"].change == "changed" and "mode" in changes["/srv/keep"].what
    assert comparison.files[0].path == "/srv/common"  # the largest size change first (5 bytes)
    totals = comparison.file_totals
    assert (totals["added"], totals["removed"], totals["changed"]) == (1, 3, 2)
    assert totals["size_change"] == 7 - 4 - 5  # x grew by 3, common went (5)
    # Configuration: the same; layers: the base and the common RUN shared.
    assert comparison.config == []
    assert len(comparison.shared) == 2 and len(comparison.a_layers) == len(comparison.b_layers) == 1
    assert comparison.a_layers[0].instruction.keyword == "RUN" and "echo one" in comparison.a_layers[0].instruction.arguments

    filtered = diff.compare(live_engine(), pair["a"], pair["b"], path_filter="srv/a")
    assert {change.path for change in filtered.files} == {"/srv/a", "/srv/a/in"}

    page = builder_client.get(reverse("images-diff"), {"a": pair["a"], "b": pair["b"]}).content.decode()
    assert "/srv/common" in page and 'id="diff-file-totals"' in page


def test_the_configuration_diff_names_every_setting(db, base_image):
    repo = dockerlib.unique("diffcfg")
    base = f"FROM {dockerlib.BASE_IMAGE}\n"
    a = dockerlib.build(base + "ENV A=1 B=2\nLABEL team=x\nEXPOSE 80\nWORKDIR /a\nUSER 1\nCMD [\"a\"]\n", tags=[f"{repo}:a"])
    b = dockerlib.build(base + "ENV A=9 C=3\nLABEL team=y owner=<b>me</b>\nEXPOSE 443\nVOLUME /data\nWORKDIR /b\n"
                        "ENTRYPOINT [\"/bin/sh\"]\n", tags=[f"{repo}:b"])
    comparison = diff.compare(live_engine(), a, b)
    got = {(change.field, change.key): (change.a, change.b, change.change) for change in comparison.config}
    assert got == {
        ("entrypoint", ""): ("", "/bin/sh", "added"),
        ("cmd", ""): ("a", "", "removed"),
        ("workdir", ""): ("/a", "/b", "changed"),
        ("user", ""): ("1", "", "removed"),
        ("env", "A"): ("1", "9", "changed"), ("env", "B"): ("2", "", "removed"), ("env", "C"): ("", "3", "added"),
        ("labels", "team"): ("x", "y", "changed"), ("labels", "owner"): ("", "<b>me</b>", "added"),
        ("exposed ports", "80/tcp"): ("", "", "removed"), ("exposed ports", "443/tcp"): ("", "", "added"),
        ("volumes", "/data"): ("", "", "added"),
    }
    assert comparison.files is None and len(comparison.not_indexed) == 2


def test_the_diff_page_without_both_indexed_offers_to_index(builder_client, pair):
    page = builder_client.get(reverse("images-diff"), {"a": pair["a"], "b": pair["b"]}).content.decode()
    assert "Comparing files needs both images indexed" in page
    assert page.count("Index its files") == 2
    missing = builder_client.get(reverse("images-diff"), {"a": pair["a"], "b": "no-such-image:1"})
    assert missing.status_code == 404
    assert builder_client.get(reverse("images-diff")).status_code == 200  # the empty form


def test_the_tag_history_links_every_move_to_what_changed(builder_client, pair):
    # :2 pointed at a, then moved to b (the event listener records such moves)
    TagMove.record(f"{pair['repo']}:2", pair["a"], "tag")
    TagMove.record(f"{pair['repo']}:2", pair["b"], "tag")
    page = builder_client.get(reverse("images-detail", args=[pair["b"].split(":")[1]])).content.decode()
    link = f'{reverse("images-diff")}?a={pair["a"].replace(":", "%3A")}&amp;b={pair["b"].replace(":", "%3A")}'
    assert f'class="what-changed" href="{link}"' in page


@pytest.mark.unaudited("the two builds stand for ones Dockyard ran; their jobs are made here")
def test_a_build_page_links_to_the_previous_build_of_its_tag(builder, builder_client, pair):
    tag = f"{pair['repo']}:1"
    earlier = Job.objects.create(kind="build", state="succeeded", target=tag, params={"tags": [tag]}, created_by=builder,
                                 image_id=pair["a"], output_limit=1000)
    Job.objects.create(kind="build", state="succeeded", target="other", params={"tags": ["other:1"]},
                       created_by=builder, image_id=pair["a"], output_limit=1000)
    later = Job.objects.create(kind="build", state="succeeded", target=tag, params={"tags": [tag]}, created_by=builder,
                               image_id=pair["b"], output_limit=1000)
    page = builder_client.get(later.get_absolute_url()).content.decode()
    assert 'id="job-compare"' in page and f"build #{earlier.pk}" in page
    assert builder_client.get(earlier.get_absolute_url()).content.decode().count('id="job-compare"') == 0


def live_engine():
    from images.engine import get_engine

    return get_engine()


def test_an_image_page_leads_to_the_repositorys_other_tags_to_compare_with(builder_client, pair):
    import re

    dockerlib.docker("tag", pair["a"], f"{pair['repo']}:old")
    dockerlib.docker("tag", pair["b"], f"{pair['repo']}-elsewhere:2")  # another repository: not offered
    page = builder_client.get(reverse("images-detail", args=[pair["b"].split(":")[1]])).content.decode()
    link = f'{reverse("images-diff")}?a={pair["b"].replace(":", "%3A")}'
    assert f'id="image-compare"><a href="{link}">Compare with…</a>' in page
    page = builder_client.get(link).content.decode()
    form = page.split('id="image-compare"', 1)[1].split("</form>", 1)[0]
    assert f'name="a" value="{pair["b"]}"' in form
    offered = re.findall(r'<option value="([^"]+)">([^ ]+) \(', form)
    assert sorted(offered) == sorted([(pair["a"], f"{pair['repo']}:1"), (pair["a"], f"{pair['repo']}:old")])
    assert builder_client.get(reverse("images-diff"), {"a": pair["b"], "b": pair["a"]}).status_code == 200

"""The Build cache page against the real engine: records made by a real BuildKit
build with a cache mount, looked at by each role, pruned by an admin (with an
age, with a size to keep, one record with all), and hostile input refused
before the engine is asked.

On the shared engine a test prunes only its own records, by id (conftest
refuses any other prune there): other people's build cache is on it too. Prunes
by age or size run on the tests' own engine (live.SecondEngine)."""

import html
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from django.test import Client
from django.urls import reverse

from images.accounts import roles
from images.lifecycle import build_cache
from images.lifecycle.tags import ActionRefused
from images.models import AuditEntry
from images.sizes import human_size
from tests import buildcache
from tests.conftest import make_user


@pytest.fixture
def made(base_image):
    made = buildcache.build_with_cache_mount()
    yield made
    buildcache.remove(made)


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def text_of(response):
    return html.unescape(response.content.decode())


def row_of(page, record_id):
    match = re.search(rf'<tr id="record-{record_id}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {record_id}"
    return match[1]


def messages_of(page):
    return re.findall(r'<li class="(?:success|error)">(.*?)</li>', page, re.S)


def test_a_builder_sees_the_cache_mount_by_name_with_its_size_and_no_prune(db, made):
    builder = make_user("builder", roles.BUILDER)
    response = client_for(builder).get(reverse("build-cache"))
    assert response.status_code == 200
    page = response.content.decode()
    mounts = re.search(r'<table class="cache-mounts">(.*?)</table>', page, re.S)[1]
    row = next(row for row in mounts.split("<tr>") if made["target"] in row)
    assert f"<code>{made['target']}</code>" in row
    assert human_size(made["mount"]["Size"]) in row and made["mount"]["Size"] >= buildcache.MOUNT_BYTES
    # The command is the engine's text: shown, escaped.
    assert f"&lt;b&gt;{made['marker']}&lt;/b&gt;" in row and f"<b>{made['marker']}</b>" not in page
    # Other checkouts' records may fill the first pages; a search finds this build's.
    found = client_for(builder).get(reverse("build-cache"), {"q": made["marker"]}).content.decode()
    assert re.findall(r'<tr id="record-(\w+)">', found) == [made["mount"]["ID"], made["layer"]["ID"]]
    layer = row_of(found, made["layer"]["ID"])
    assert "layer" in layer and "shared" in layer
    mounts_only = client_for(builder).get(reverse("build-cache"), {"type": "exec.cachemount"}).content.decode()
    assert f'id="record-{made["mount"]["ID"]}"' in mounts_only
    assert set(re.findall(r'<tr id="record-\w+">\s*<td><code>\w+</code></td>\s*<td>([^<]+)</td>', mounts_only)) == {
        "cache mount"}
    assert "Prune build cache" not in page and 'name="record"' not in page
    assert 'href="/build-cache/"' in page  # in the header's nav
    engine_types = {record["Type"] for record in buildcache.engine_records().values()}
    shown = set(re.findall(r'<code class="subtle">([a-z.]+)</code>', page))
    assert {"exec.cachemount", "regular"} <= shown and shown <= engine_types


def test_a_viewer_is_refused_the_page_and_the_prune(db, made):
    viewer = make_user("viewer", roles.VIEWER)
    client = client_for(viewer)
    page = client.get(reverse("images-list")).content.decode()
    assert 'href="/build-cache/"' not in page
    response = client.get(reverse("build-cache"))
    assert response.status_code == 403
    assert "Your role (viewer) does not allow this" in text_of(response)
    assert "needs the builder role" in text_of(response)
    refused = client.post(reverse("build-cache-prune"), {"record": made["mount"]["ID"]})
    assert refused.status_code == 403 and "needs the admin role" in text_of(refused)
    assert made["mount"]["ID"] in buildcache.engine_records()
    assert AuditEntry.objects.filter(actor=viewer, outcome="denied").count() == 2


def test_a_builder_is_refused_the_prune(db, made):
    builder = make_user("builder", roles.BUILDER)
    for data in ({"record": made["mount"]["ID"]}, {"all": "on", "keep_storage": "0"}):
        response = client_for(builder).post(reverse("build-cache-prune"), data)
        assert response.status_code == 403
        assert "Your role (builder) does not allow this" in text_of(response)
    records = buildcache.engine_records()
    assert made["mount"]["ID"] in records and made["layer"]["ID"] in records
    assert not AuditEntry.objects.filter(action="prune-build-cache").exists()


@pytest.fixture
def own_engine(settings, second_engine):
    """The tests' own engine (live.SecondEngine) as `b`, with a cache-mount build:
    all of its build cache is the tests', so a prune by age or size may take any of it."""
    settings.DOCKYARD_ENGINES = {**settings.DOCKYARD_ENGINES, "b": second_engine.address}
    return buildcache.build_with_cache_mount("b")


def unused_for_more_than(seconds, record):
    """Wait until the engine's record has gone unused for more than `seconds`."""
    last_used = datetime.fromisoformat(record["LastUsedAt"])
    while datetime.now(timezone.utc) - last_used <= timedelta(seconds=seconds):
        time.sleep(0.1)


def test_an_admin_prunes_with_an_age_and_what_is_younger_stays(owner_client, own_engine):
    page = owner_client.get("/e/b/build-cache/").content.decode()
    assert "Prune build cache" in page and f'value="{own_engine["mount"]["ID"]}"' in page
    response = owner_client.post("/e/b/build-cache/prune", {"until": "24h", "all": "on"}, follow=True)
    assert "Pruned 0 build-cache record(s), reclaiming 0B (0 bytes)." in text_of(response)
    assert {own_engine["mount"]["ID"], own_engine["layer"]["ID"]} <= set(buildcache.engine_records("b"))
    # Once unused for longer than the age, the same prune takes them.
    unused_for_more_than(2, own_engine["layer"])
    response = owner_client.post("/e/b/build-cache/prune", {"until": "2s", "all": "on"}, follow=True)
    [message] = messages_of(response.content.decode())
    assert re.fullmatch(r"Pruned \d+ build-cache record\(s\), reclaiming .+ \([\d,]+ bytes\)\.", html.unescape(message))
    records = buildcache.engine_records("b")
    assert own_engine["mount"]["ID"] not in records and own_engine["layer"]["ID"] not in records
    entries = AuditEntry.objects.filter(action="prune-build-cache").order_by("pk")
    assert [(e.actor_name, e.outcome, e.target) for e in entries] == [
        ("owner", "ok", "all build cache, unused for 24h"), ("owner", "ok", "all build cache, unused for 2s")]
    assert re.match(r"\d+ record\(s\) deleted, \d+ bytes reclaimed", entries[1].detail)


def test_an_admin_prunes_keeping_more_than_there_is_and_nothing_goes(owner_client, own_engine):
    response = owner_client.post("/e/b/build-cache/prune", {"keep_storage": "1PiB", "all": "on"}, follow=True)
    assert "Pruned 0 build-cache record(s), reclaiming 0B (0 bytes)." in text_of(response)
    records = buildcache.engine_records("b")
    assert own_engine["mount"]["ID"] in records and own_engine["layer"]["ID"] in records
    entry = AuditEntry.objects.get(action="prune-build-cache")
    assert entry.target == f"all build cache, keeping {1024 ** 5} bytes"
    assert entry.detail == "0 record(s) deleted, 0 bytes reclaimed"
    owner_client.post("/e/b/build-cache/prune", {"keep_storage": "0", "all": "on"})
    assert own_engine["mount"]["ID"] not in buildcache.engine_records("b")


def test_an_admin_prunes_one_record_with_all_and_the_engine_no_longer_holds_it(owner_client, made):
    mount, layer = made["mount"], made["layer"]
    listed = owner_client.get(reverse("build-cache"), {"q": made["marker"]}).content.decode()
    assert f'id="record-{layer["ID"]}"' in listed and made["target"] in listed
    response = owner_client.post(reverse("build-cache-prune"), {"record": mount["ID"]}, follow=True)
    size = mount["Size"]
    assert f"Pruned 1 build-cache record(s), reclaiming {human_size(size)} ({size:,} bytes)." in text_of(response)
    assert mount["ID"] not in buildcache.engine_records()
    # The layer is shared with the image: only `all` (which one record's prune implies) takes it.
    owner_client.post(reverse("build-cache-prune"), {"record": layer["ID"]})
    records = buildcache.engine_records()
    assert layer["ID"] not in records
    page = owner_client.get(reverse("build-cache"), {"q": made["marker"]}).content.decode()
    assert made["target"] not in page and f'id="record-{layer["ID"]}"' not in page and "No record matches" in page
    entries = AuditEntry.objects.filter(action="prune-build-cache").order_by("pk")
    assert [(e.target, e.outcome) for e in entries] == [(f"build-cache record {mount['ID']}", "ok"),
                                                        (f"build-cache record {layer['ID']}", "ok")]
    assert entries[0].detail == f"1 record(s) deleted, {size} bytes reclaimed: {mount['ID']}"


HOSTILE = [
    ({"keep_storage": "-1"}, "is not a size"),
    ({"keep_storage": "1e9"}, "is not a size"),
    ({"keep_storage": "1GB; rm -rf /"}, "is not a size"),
    ({"keep_storage": "9" * 30}, "is not a size"),
    ({"keep_storage": "2PiB"}, "at most 1PiB"),
    ({"keep_storage": "<script>alert(1)</script>"}, "is not a size"),
    ({"until": "0h"}, "more than zero"),
    ({"until": "bogus"}, "is not an age"),
    ({"until": "24h\n1h"}, "is not an age"),
    ({"until": "1y"}, "is not an age"),
    ({"until": "99999d"}, "at most ten years"),
    ({"record": "^.*$"}, "letters and digits"),
    ({"record": "a" * 65}, "letters and digits"),
    ({"record": "nosuchrecord0000000000000"}, "holds no build-cache record"),
]


def test_hostile_input_is_refused_with_a_reason_and_changes_nothing(owner_client, made):
    cases = HOSTILE + [({"record": made["mount"]["ID"], "until": "1h"}, "not both at once")]
    for data, reason in cases:
        response = owner_client.post(reverse("build-cache-prune"), data, follow=True)
        page = response.content.decode()
        [message] = messages_of(page)
        assert html.unescape(message).startswith("Nothing pruned: ") and reason in html.unescape(message), data
        assert "<script>" not in page
    after = buildcache.engine_records()
    assert made["mount"]["ID"] in after and made["layer"]["ID"] in after
    # The engine was never asked: every prune it is asked for is audited (the suite checks that).
    assert not AuditEntry.objects.filter(action="prune-build-cache").exists()


def test_sizes_and_ages_read_as_the_form_says():
    assert build_cache.parse_size("1GB") == 10 ** 9 and build_cache.parse_size("1GiB") == 1024 ** 3
    assert build_cache.parse_size("512 mib") == 512 * 1024 ** 2 and build_cache.parse_size("2000") == 2000
    assert build_cache.parse_size("1.5kB") == 1500 and build_cache.parse_size("") is None
    assert build_cache.parse_age("24h") == "86400s" and build_cache.parse_age("1d12h30m") == "131400s"
    assert build_cache.parse_age(" 90S ") == "90s" and build_cache.parse_age("") is None
    for bad in ("1.2.3GB", "GB", "1 G B", "١٢"):
        with pytest.raises(ActionRefused):
            build_cache.parse_size(bad)
    for bad in ("24", "h", "-1h", "1h-1m", "1.5h"):
        with pytest.raises(ActionRefused):
            build_cache.parse_age(bad)


def test_the_engine_call_refuses_what_it_was_not_meant_to_send(engine, made):
    # The engine module checks again what reaches /build/prune, whoever calls it.
    for options in ({"until": "24h; x"}, {"until": "1.5h"}, {"record_id": ".*"},
                    {"record_id": made["mount"]["ID"][:5] + "|"}, {"keep_storage": -1}, {"keep_storage": True},
                    {"keep_storage": "1GB"}):
        with pytest.raises(ValueError):
            engine.prune_build_cache(all_records=True, **options)
    records = buildcache.engine_records()
    assert made["mount"]["ID"] in records and made["layer"]["ID"] in records


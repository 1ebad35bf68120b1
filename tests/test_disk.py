"""The Disk page's figures against `docker system df` on the shared engine (other
checkouts' images, containers and build cache are there too), the samples beat
takes and purges, and who sees what."""

import json
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from images.accounts import roles
from images.engine import get_engine
from images.models import DiskSample
from images.monitoring import disk
from tests import dockerlib
from tests.conftest import make_user

CLI_KINDS = {"Images": "images", "Containers": "containers", "Local Volumes": "volumes", "Build Cache": "build_cache"}
CLI_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]


def cli_size(size):
    """Bytes as the docker CLI prints them (go-units HumanSize: four significant digits)."""
    value, unit = float(size), 0
    while value >= 1000 and unit < len(CLI_UNITS) - 1:
        value /= 1000
        unit += 1
    return f"{value:.4g}{CLI_UNITS[unit]}"


def cli_reclaimable(usage):
    text = cli_size(usage.reclaimable)
    # The CLI gives the share for all but the build cache.
    return f"{text} ({usage.reclaimable_percent}%)" if usage.kind != "build_cache" and usage.size > 0 else text


def fingerprint(df):
    """What each kind's figures are made of, item by item: equal fingerprints before and after the CLI's reading
    mean the engine held still for that kind (equal sums alone could hide one container gone, another come)."""
    return {
        "images": (df.get("LayersSize"), sorted((i["Id"], i["Containers"], i["Size"], i["SharedSize"])
                                                for i in df.get("Images") or [])),
        "containers": sorted((c["Id"], c.get("SizeRw"), c["State"]) for c in df.get("Containers") or []),
        "volumes": sorted((v["Name"], str(v.get("UsageData"))) for v in df.get("Volumes") or []),
        "build_cache": sorted((r["ID"], r["Size"], r["InUse"], r["Shared"]) for r in df.get("BuildCache") or []),
    }


def cli_system_df():
    """`docker system df --format '{{json .}}'`, asked again while the engine runs another one's."""
    for _ in range(200):
        result = dockerlib.docker("system", "df", "--format", "{{json .}}", check=False)
        if result.strip():
            return {CLI_KINDS[row["Type"]]: row for row in map(json.loads, result.splitlines())}
        time.sleep(0.1)
    raise AssertionError("docker system df kept failing")


@pytest.fixture
def own_disk_use(base_image):
    """Two images on one shared layer, one of them used by a running container that wrote to its layer, a stopped
    container that wrote too, and a volume no container uses holding some bytes: every figure is non-zero."""
    shared = dockerlib.unique("disk-shared")
    dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN head -c 300000 /dev/urandom > /shared.bin\n", tags=[shared])
    children = [dockerlib.unique(f"disk-{n}") for n in (1, 2)]
    for n, child in enumerate(children):
        dockerlib.build(f"FROM {shared}\nRUN head -c {100000 * (n + 1)} /dev/urandom > /own.bin\n", tags=[child])
    label = f"{dockerlib.TEST_LABEL}=1"
    running = dockerlib.docker("run", "-d", "--label", label, children[0], "sh", "-c",
                               "head -c 50000 /dev/urandom > /written && sleep 600").strip()
    stopped = f"dockyard-test-disk-{uuid.uuid4().hex[:8]}"
    dockerlib.docker("run", "--name", stopped, "--label", label, children[1], "sh", "-c",
                     "head -c 70000 /dev/urandom > /written")
    volume = f"dockyard-test-disk-{uuid.uuid4().hex[:8]}"
    dockerlib.docker("volume", "create", "--label", label, volume)
    dockerlib.docker("run", "--rm", "-v", f"{volume}:/data", dockerlib.BASE_IMAGE, "sh", "-c",
                     "head -c 40000 /dev/urandom > /data/kept")
    yield {"images": [shared, *children], "volume": volume}
    dockerlib.docker("rm", "-f", running, stopped, check=False)
    dockerlib.docker("volume", "rm", "-f", volume, check=False)
    dockerlib.docker("rmi", "-f", *children, shared, check=False)


def agreement_while_still(read, figures, attempts=40):
    """Read the engine's disk usage, then `read()` the other side, then the engine's again (which is the next
    attempt's first reading), until each kind has agreed once while the engine held still for it (its items the
    same before and after): other checkouts change the engine meanwhile, and a running build's records flip in
    use and back unseen, so a kind that differs is read again. `figures(usage, other)` gives (what the other side
    says, what it should say). Returns the kinds that agreed, by name, and the disagreements seen."""
    engine, agreed, disagreed = get_engine(), {}, []
    df_before = engine.disk_usage()
    for _ in range(attempts):
        other = read()
        df_after = engine.disk_usage()
        before, after = fingerprint(df_before), fingerprint(df_after)
        for usage in disk.summarize(df_before).kinds:
            if usage.kind in agreed or before[usage.kind] != after[usage.kind]:
                continue
            said, expected = figures(usage, other)
            if said == expected:
                agreed[usage.kind] = usage
            else:
                disagreed.append((usage.kind, said, expected))
        if len(agreed) == len(disk.KINDS):
            break
        df_before = df_after
    return agreed, disagreed


def test_every_figure_equals_docker_system_df_for_the_same_state(own_disk_use):
    def figures(usage, cli):
        row = cli[usage.kind]
        return ((row["TotalCount"], row["Active"], row["Size"], row["Reclaimable"]),
                (str(usage.count), str(usage.active), cli_size(usage.size), cli_reclaimable(usage)))

    compared, disagreed = agreement_while_still(cli_system_df, figures)
    assert sorted(compared) == sorted(disk.KINDS), disagreed
    # The test's own things make every figure count: shared layers, a container in use, a volume unused.
    assert compared["images"].active >= 1 and compared["images"].reclaimable < compared["images"].size
    assert compared["containers"].active >= 1 and compared["containers"].reclaimable >= 70000
    assert compared["volumes"].reclaimable >= 40000


def test_shared_layers_count_once_and_an_image_in_use_keeps_only_its_own_bytes():
    df = {
        "LayersSize": 1000,
        "Images": [
            {"Containers": 1, "Size": 700, "SharedSize": 500},  # 200 bytes its own, 500 shared
            {"Containers": 0, "Size": 800, "SharedSize": 500},
            {"Containers": 2, "Size": -1, "SharedSize": -1},  # not measured: the CLI skips it
        ],
        "Containers": [{"State": "running", "SizeRw": 10}, {"State": "paused", "SizeRw": 20},
                       {"State": "exited", "SizeRw": 30}, {"State": "created"}],
        "Volumes": [{"UsageData": {"RefCount": 1, "Size": 5}}, {"UsageData": {"RefCount": 0, "Size": 7}},
                    {"UsageData": {"RefCount": 0, "Size": -1}}],
        "BuildCache": [{"InUse": True, "Shared": False, "Size": 100}, {"InUse": False, "Shared": True, "Size": 300},
                       {"InUse": False, "Shared": False, "Size": 40}],
    }
    usage = disk.summarize(df)
    assert (usage.images.count, usage.images.active, usage.images.size, usage.images.reclaimable) == (3, 2, 1000, 800)
    assert (usage.containers.count, usage.containers.active, usage.containers.size,
            usage.containers.reclaimable) == (4, 2, 60, 30)
    assert (usage.volumes.count, usage.volumes.active, usage.volumes.size, usage.volumes.reclaimable) == (3, 1, 12, 7)
    assert (usage.build_cache.count, usage.build_cache.active, usage.build_cache.size,
            usage.build_cache.reclaimable) == (3, 1, 140, 40)
    assert (usage.size, usage.reclaimable) == (1212, 877)
    assert usage.images.reclaimable_percent == 80 and disk.summarize({}).images.reclaimable_percent is None


def test_beat_samples_every_engine_every_fifteen_minutes_and_purges_after_ninety_days(db):
    assert settings.DOCKYARD_SCHEDULE["images.tasks.sample_disk_usage"] == 15 * 60
    old = DiskSample.objects.create(engine="default", at=timezone.now() - timedelta(days=90, minutes=1),
                                    **disk.DiskUsage(*(disk.Usage(kind) for kind in disk.KINDS)).fields())
    kept = DiskSample.objects.create(engine="default", at=timezone.now() - timedelta(days=89, hours=23),
                                     **disk.DiskUsage(*(disk.Usage(kind) for kind in disk.KINDS)).fields())
    from images.tasks import sample_disk_usage

    sample_disk_usage()
    taken = DiskSample.objects.exclude(pk__in=[old.pk, kept.pk])
    assert sorted(taken.values_list("engine", flat=True)) == sorted(settings.DOCKYARD_ENGINES)
    assert not DiskSample.objects.filter(pk=old.pk).exists() and DiskSample.objects.filter(pk=kept.pk).exists()
    sample = taken.get(engine="default")
    assert sample.images_count > 0 and sample.images_size > 0 and sample.build_cache_count >= 0


def sampled(count, engine="default"):
    """`count` samples of the engine, spread an hour apart back from now."""
    samples = [disk.take_sample(engine) for _ in range(count)]
    for hours_ago, sample in enumerate(reversed(samples)):
        DiskSample.objects.filter(pk=sample.pk).update(at=sample.at - timedelta(hours=hours_ago))
    return [DiskSample.objects.get(pk=sample.pk) for sample in samples]


def test_a_builder_sees_each_kind_now_and_its_plots_with_their_tables(db):
    samples = sampled(2)
    client = Client()
    client.force_login(make_user("builder", roles.BUILDER))
    page = client.get(reverse("disk")).content.decode()
    assert "<table class=\"disk-usage\">" in page
    for kind in ("images", "containers", "volumes", "build_cache"):
        assert f'<tr class="disk-{kind}">' in page and f'data-series="{kind}"' in page
    series = json.loads(page.split('id="disk-series-default" type="application/json">')[1].split("</script>")[0])
    assert series["at"] == [int(sample.at.timestamp()) for sample in samples]
    assert series["images_size"] == [sample.images_size for sample in samples]
    assert "Images: size and reclaimable" in page and "Everything: size and reclaimable" in page
    # A window the form does not offer is the default one.
    odd = client.get(reverse("disk"), {"days": "<script>9999"}).content.decode()
    assert '<option value="7" selected>' in odd and "<script>9999" not in odd


def test_a_viewer_sees_the_totals_and_their_plot_alone(db):
    sampled(2)
    client = Client()
    client.force_login(make_user("viewer", roles.VIEWER))
    response = client.get(reverse("disk"))
    page = response.content.decode()
    assert response.status_code == 200 and "reclaimable" in page
    assert 'class="disk-total-size"' in page and '<table class="disk-usage">' not in page
    assert 'data-series="total"' in page and 'data-series="images"' not in page
    series = json.loads(page.split('id="disk-series-default" type="application/json">')[1].split("</script>")[0])
    assert sorted(series) == ["at", "total_reclaimable", "total_size"]


def test_someone_without_a_role_is_refused_and_an_anonymous_one_sent_to_log_in(db):
    client = Client()
    assert client.get(reverse("disk")).status_code == 302
    client.force_login(make_user("nobody", None))
    assert client.get(reverse("disk")).status_code == 403


def test_an_engine_that_does_not_answer_is_named_and_the_others_still_shown_and_sampled(db, settings, tmp_path):
    settings.DOCKYARD_ENGINES = {**settings.DOCKYARD_ENGINES, "gone": f"unix://{tmp_path}/no-engine.sock"}
    taken = disk.sample_every_engine()
    assert [sample.engine for sample in taken] == ["default"]
    client = Client()
    client.force_login(make_user("owner", roles.ADMIN))
    page = client.get(reverse("disk")).content.decode()
    gone = page.split('id="disk-gone"')[1]
    assert "The engine did not answer" in gone and "no-engine.sock" in gone
    assert '<tr class="disk-images">' in page.split('id="disk-default"')[1].split('id="disk-gone"')[0]


def test_celery_beat_sends_the_sampling_and_the_worker_does_it(transactional_db, scheduler):
    deadline = time.monotonic() + 60
    while not DiskSample.objects.filter(engine="default").exists():
        assert time.monotonic() < deadline, "no sample came from the schedule"
        time.sleep(0.2)
    assert b"Sending due task images.tasks.sample_disk_usage" in scheduler.log_path.read_bytes()
    assert DiskSample.objects.filter(engine="default").first().images_count > 0

"""Retention rules on the real, shared engine (other tests' and people's images
beside this run's): the dry run's bytes against the layers the engine really
frees on apply, what always stays, the quarantine and its restore, refusals."""

import json
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from images.engine import get_engine
from images.lifecycle import quarantine
from images.models import AuditEntry, ImagePin, QuarantinedImage, RetentionRule
from images.refs import chain_ids
from tests import dockerlib
from tests.apiclient import bearer
from tests.live import wait_for_job

pytestmark = pytest.mark.usefixtures("base_image")


def layer_db():
    info = json.loads(dockerlib.docker("info", "--format", "{{json .}}"))
    return Path(info["DockerRootDir"]) / "image" / info["Driver"] / "layerdb" / "sha256"


def chains_of(*image_ids):
    chains = set()
    for image_id in image_ids:
        config = json.loads(dockerlib.docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", image_id))
        chains.update(chain_ids(config))
    return chains


def engine_layer_sizes(chains):
    """{chain id: bytes} as the engine keeps them (layerdb/<chain>/size), for those it still has."""
    sizes = {}
    for chain in chains:
        path = layer_db() / chain.split(":", 1)[1] / "size"
        if path.exists():
            sizes[chain] = int(path.read_text())
    return sizes


def exists(reference):
    return dockerlib.docker("image", "inspect", "--format", "{{.Id}}", reference, check=False).strip()


@pytest.fixture
def quarantine_dir():
    """The quarantine the worker writes to too (its settings are its own); the
    archives this test's records name are removed after it."""
    yield Path(settings.DOCKYARD_QUARANTINE_DIR)
    for engine_name, name in QuarantinedImage.objects.exclude(file="").values_list("engine", "file"):
        (quarantine.directory(engine_name) / name).unlink(missing_ok=True)


@pytest.fixture
def shared_layers():
    """A repository of this run's: `keep` on a 400 kB layer; g1 and g2 going,
    both on it too and on a 300 kB layer no kept image has, g2 with a 200 kB layer
    of its own."""
    repository = f"{dockerlib.PREFIX}/ret-{uuid.uuid4().hex[:8]}"
    kept_layer = f"FROM {dockerlib.BASE_IMAGE}\nRUN dd if=/dev/zero of=/kept bs=1024 count=400\n"
    shared = kept_layer + f"RUN dd if=/dev/zero of=/shared bs=1024 count=300 && echo {repository}\n"
    return {
        "repository": repository,
        "keep": dockerlib.build(kept_layer + f"LABEL which=keep-{repository}\n", tags=[f"{repository}:keep"]),
        "g1": dockerlib.build(shared + "LABEL which=g1\n", tags=[f"{repository}:g1"]),
        "g2": dockerlib.build(shared + "RUN dd if=/dev/zero of=/own bs=1024 count=200\nLABEL which=g2\n",
                              tags=[f"{repository}:g2", f"{repository}:g2-alias"]),
    }


@pytest.mark.usefixtures("worker")
def test_the_dry_run_bytes_are_what_the_engine_frees_and_restore_gives_back_id_and_tags(
        transactional_db, owner, shared_layers, quarantine_dir):
    api, repository = bearer(owner), shared_layers["repository"]
    made = api.post("/api/retention/rules", {"repository_pattern": repository, "keep_pattern": "keep"},
                    content_type="application/json")
    assert made.status_code == 201, made.content
    dry = api.get("/api/retention/dry-run").json()
    going = {image["image_id"]: image["tags"] for image in dry["images"]}
    assert going == {shared_layers["g1"]: [f"{repository}:g1"],
                     shared_layers["g2"]: [f"{repository}:g2", f"{repository}:g2-alias"]}
    assert dry["untagged"] == [] and dry["tags_checked"] == 4
    # g1's layers are g2's first ones (g1 is its base), but g2 goes too.
    chains = chains_of(shared_layers["g1"], shared_layers["g2"], shared_layers["keep"])
    before = engine_layer_sizes(chains)

    job = api.post("/api/retention/apply", {"image_ids": list(going), "tags": []}, content_type="application/json")
    assert job.status_code == 201, job.content
    from images.models import Job
    job = wait_for_job(Job.objects.get(pk=job.json()["id"]))
    assert job.state == "succeeded", job.error

    after = engine_layer_sizes(chains)
    freed = sum(size for chain, size in before.items() if chain not in after)
    # The 300 kB layer once and the 200 kB one; not the 400 kB one `keep` holds.
    assert 500_000 < freed < 560_000, freed
    assert abs(dry["bytes_freed"] - freed) <= freed / 100, (dry["bytes_freed"], freed)
    assert not exists(shared_layers["g1"]) and not exists(shared_layers["g2"])
    assert exists(f"{repository}:keep") == shared_layers["keep"]
    assert AuditEntry.objects.filter(action="remove", target=shared_layers["g2"], outcome="ok").exists()

    held = {record["image_id"]: record for record in api.get("/api/retention/quarantine").json()}
    assert {held[image_id]["state"] for image_id in going} == {"kept"}
    restored = api.post(f"/api/retention/quarantine/{held[shared_layers['g2']]['id']}/restore")
    assert restored.status_code == 200, restored.content
    assert restored.json()["state"] == "restored"
    assert exists(f"{repository}:g2") == shared_layers["g2"]
    assert exists(f"{repository}:g2-alias") == shared_layers["g2"]
    assert not exists(f"{repository}:g1")
    # Its archive is gone once restored (g1's stays); a second restore is refused.
    files = {record.image_id: quarantine.directory(record.engine) / record.file
             for record in QuarantinedImage.objects.all()}
    assert not files[shared_layers["g2"]].exists() and files[shared_layers["g1"]].exists()
    again = api.post(f"/api/retention/quarantine/{held[shared_layers['g2']]['id']}/restore")
    assert again.status_code == 409 and "nothing to restore" in again.json()["error"]


@pytest.mark.usefixtures("worker")
def test_a_rule_never_removes_an_image_in_use_a_pinned_one_or_a_kept_images_base(
        transactional_db, owner, quarantine_dir):
    repository = f"{dockerlib.PREFIX}/ret-{uuid.uuid4().hex[:8]}"
    base = f"FROM {dockerlib.BASE_IMAGE}\nRUN echo {repository} > /base\n"
    old_base = dockerlib.build(base, tags=[f"{repository}:old-base"])
    kept = dockerlib.build(f"FROM {repository}:old-base\nRUN echo child > /child\n", tags=[f"{repository}:keep"])
    used = dockerlib.build(base + "RUN echo used > /used\n", tags=[f"{repository}:used"])
    pinned = dockerlib.build(base + "RUN echo pinned > /pinned\n", tags=[f"{repository}:pinned"])
    free = dockerlib.build(base + "RUN echo free > /free\n", tags=[f"{repository}:free"])
    dockerlib.docker("create", "--label", f"{dockerlib.TEST_LABEL}=1", f"{repository}:used", "true")
    api = bearer(owner)
    assert api.put(f"/api/images/{pinned}/pin").json() == {"image_id": pinned, "pinned": True}
    api.post("/api/retention/rules", {"repository_pattern": repository, "keep_pattern": "keep"},
             content_type="application/json")

    dry = api.get("/api/retention/dry-run").json()
    assert [image["image_id"] for image in dry["images"]] == [free]
    assert {image["image_id"]: image["reason"] for image in dry["kept"]} == {
        old_base: "the base of an image that stays", used: "a container uses it", pinned: "pinned"}
    # Asking to remove all of them removes only what the rules let go.
    job = api.post("/api/retention/apply", {"image_ids": [old_base, used, pinned, free, kept]},
                   content_type="application/json")
    from images.models import Job
    job = wait_for_job(Job.objects.get(pk=job.json()["id"]))
    assert job.state == "succeeded", job.error
    assert not exists(free)
    for image_id in (old_base, kept, used, pinned):
        assert exists(image_id) == image_id


def test_the_quarantine_cap_drops_the_oldest_first(db, owner, quarantine_dir, settings):  # noqa: ARG001
    engine = get_engine()
    ids = [dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN dd if=/dev/zero of=/q bs=1024 count=100 && "
                           f"echo {uuid.uuid4().hex} > /n\n") for _ in range(3)]
    images = {image["Id"]: image for image in engine.list_images() if image["Id"] in ids}
    first = quarantine.keep(engine.stream(), images[ids[0]])
    assert first.state == "kept" and first.size > 0
    # Room for two archives, not three.
    settings.DOCKYARD_QUARANTINE_MAX = first.size * 2 + first.size // 2
    second = quarantine.keep(engine.stream(), images[ids[1]])
    third = quarantine.keep(engine.stream(), images[ids[2]])
    states = {record.image_id: (record.state, bool(record.file) and
                                (quarantine.directory(engine.name) / record.file).exists())
              for record in QuarantinedImage.objects.all()}
    assert states == {ids[0]: ("dropped", False), ids[1]: ("kept", True), ids[2]: ("kept", True)}
    assert quarantine.held(engine.name) <= settings.DOCKYARD_QUARANTINE_MAX
    # An image larger than the whole cap is listed as not kept; nothing else is dropped for it.
    settings.DOCKYARD_QUARANTINE_MAX = first.size // 2
    too_big = quarantine.keep(engine.stream(), images[ids[0]])
    assert (too_big.state, too_big.file) == ("not kept", "")
    assert "larger" in too_big.reason
    assert second.__class__.objects.get(pk=second.pk).state == "kept"


def test_a_regular_expression_that_would_run_for_ever_is_refused(db, owner, owner_client):
    field = "keep_pattern"
    fields = {"repository_pattern": "team/app", "keep_last": 3, field: "(x|xx)+y"}
    answer = bearer(owner).post("/api/retention/rules", fields, content_type="application/json")
    assert answer.status_code == 400
    message = answer.json()["fields"][field][0]["message"]
    assert "backtracks without end" in message and "(x|xx)+y" in message
    page = owner_client.post("/disk/retention/", fields)
    assert page.status_code == 400 and "backtracks without end" in page.content.decode()
    broken = bearer(owner).post("/api/retention/rules", {**fields, field: "(unclosed"},
                                content_type="application/json")
    assert "is not a regular expression" in broken.json()["fields"][field][0]["message"]
    assert not RetentionRule.objects.exists()


def test_a_rules_repository_pattern_is_a_glob(db, owner, owner_client):
    root = dockerlib.unique("glob")
    names = [f"{root}/app:v1", f"{root}/api-1:v1", f"{root}/api-12:v1", f"{root}/app/deeper:v1"]
    for name in names:
        dockerlib.docker("tag", dockerlib.BASE_IMAGE, name)
    api = bearer(owner)
    try:
        going = {}
        for pattern in (f"{root}/*", f"*/{root.split('/')[1]}/api-?", f"{root}/**"):
            rule = api.post("/api/retention/rules", {"repository_pattern": pattern, "keep_last": 0},
                            content_type="application/json")
            assert rule.status_code == 201, rule.content
            # The base image keeps its own tag: these tags go from an image that stays.
            going[pattern] = sorted(tag["tag"] for tag in api.get("/api/retention/dry-run").json()["untagged"])
            api.delete(f"/api/retention/rules/{rule.json()['id']}")
        assert going == {f"{root}/*": sorted(names[:3]),  # * stops at /
                         f"*/{root.split('/')[1]}/api-?": [names[1]],  # ? is one character
                         f"{root}/**": sorted(names)}
    finally:
        dockerlib.docker("rmi", *names, check=False)

    for bad, said in (("Team/(app)", "'(' ')' 'T' cannot be in one"), ("team/[a-z", "no ] closes")):
        answer = api.post("/api/retention/rules", {"repository_pattern": bad, "keep_last": 1},
                          content_type="application/json")
        assert answer.status_code == 400
        assert said in answer.json()["fields"]["repository_pattern"][0]["message"]
    page = owner_client.post("/disk/retention/", {"repository_pattern": "Team/(app)", "keep_last": 1})
    assert page.status_code == 400 and "is not a glob of repository names" in page.content.decode()
    assert not RetentionRule.objects.exists()


def test_a_rule_set_with_no_match_removes_nothing(db, owner, owner_client):
    before = dockerlib.own_images()
    api = bearer(owner)
    for pattern in (f"{dockerlib.PREFIX}/nothing-{uuid.uuid4().hex[:8]}", "no/such/[a-z]*"):
        assert api.post("/api/retention/rules", {"repository_pattern": pattern, "keep_last": 0},
                        content_type="application/json").status_code == 201
    dry = api.get("/api/retention/dry-run").json()
    assert (dry["images"], dry["untagged"], dry["bytes_freed"], dry["tags_checked"]) == ([], [], 0, 0)
    refused = api.post("/api/retention/apply", {"image_ids": [dockerlib.image_id(dockerlib.BASE_IMAGE)]},
                       content_type="application/json")
    assert refused.status_code == 409 and "Nothing to remove" in refused.json()["error"]
    assert "Nothing would go." in owner_client.get("/disk/retention/").content.decode()
    assert dockerlib.own_images() == before
    assert not ImagePin.objects.exists()


def test_a_repositorys_trend_counts_its_layers_once_and_what_it_holds_alone(db, owner):
    from images.monitoring import repositories

    repository = f"{dockerlib.PREFIX}/trend-{uuid.uuid4().hex[:8]}"
    first = f"FROM {dockerlib.BASE_IMAGE}\nRUN dd if=/dev/zero of=/a bs=1024 count=120 && echo {repository}\n"
    ids = [dockerlib.build(first, tags=[f"{repository}:1"]),
           dockerlib.build(first + "RUN dd if=/dev/zero of=/b bs=1024 count=80\n", tags=[f"{repository}:2"])]
    repositories.take_samples(get_engine())
    sizes = engine_layer_sizes(chains_of(*ids))
    base_chains = chains_of(dockerlib.BASE_IMAGE)
    series = bearer(owner).get("/api/disk/repositories", {"repository": repository}).json()
    assert len(series) == 1 and len(series[0]["at"]) == 1
    # Every layer once (the shared 120 kB one too); alone, all but the base's, which its own repository holds.
    assert series[0]["size"] == [sum(sizes.values())]
    assert series[0]["alone"] == [sum(size for chain, size in sizes.items() if chain not in base_chains)]
    assert 200_000 < series[0]["alone"][0] < 220_000


@pytest.mark.usefixtures("worker")
def test_a_dangling_rule_lets_old_dangling_images_go_counted_once_with_the_rest(transactional_db, owner,
                                                                                 quarantine_dir):
    """The engine is shared: other dangling images go in the dry run too, so the
    bytes are compared between two dry runs that differ only by this test's rule."""
    from images.lifecycle import retention

    repository = dockerlib.unique("ret-dangling")
    tagged = f"FROM {dockerlib.BASE_IMAGE}\nRUN dd if=/dev/zero of=/t bs=1024 count=100 && echo {repository}\n"
    going_tag = dockerlib.build(tagged, tags=[f"{repository}:old"])
    # Untagged, on the tagged image's layers and one of its own: dangling.
    dangling = dockerlib.build(tagged + "RUN dd if=/dev/zero of=/d bs=1024 count=50\n")
    api = bearer(owner)
    rule = api.post("/api/retention/rules", {"kind": "dangling", "keep_days": 0}, content_type="application/json")
    assert rule.status_code == 201, rule.content
    assert rule.json()["keeps"] == "those made in the last 0 days (older go)"
    tags_rule = RetentionRule.objects.create(repository_pattern=repository, keep_last=0)
    dry = {image["image_id"]: image for image in api.get("/api/retention/dry-run").json()["images"]}
    assert (dry[dangling]["tags"], dry[dangling]["rule_ids"]) == ([], [rule.json()["id"]])
    assert dry[going_tag]["tags"] == [f"{repository}:old"]
    assert "dangling" in api.get("/api/retention/rules").json()[0]["kind"]

    engine, rules = get_engine(), retention.rules_of("default")
    sizes = engine_layer_sizes(chains_of(dangling))
    own = sum(sizes.values()) - sum(engine_layer_sizes(chains_of(going_tag)).values())
    shared = sum(engine_layer_sizes(chains_of(going_tag)).values()) - sum(
        engine_layer_sizes(chains_of(dockerlib.BASE_IMAGE)).values())
    for _ in range(3):  # until no one else's dangling image came or went between the two
        both = retention.plan(engine, rules)
        alone = retention.plan(engine, [rule for rule in rules if rule.pk != tags_rule.pk])
        others = [{image.image_id for image in found.images} - {dangling, going_tag} for found in (both, alone)]
        if others[0] == others[1]:
            break
    # Alone, the dangling image frees its own layer (its base stays); with the tagged one, the shared layer once.
    assert dangling in {image.image_id for image in alone.images}
    assert both.bytes_freed - alone.bytes_freed == shared, (both.bytes_freed, alone.bytes_freed, shared)
    assert 50_000 <= own < 60_000 and 100_000 <= shared < 110_000
    # Refused: a dangling rule has only its days.
    refused = api.post("/api/retention/rules", {"kind": "dangling", "keep_days": 1, "repository_pattern": "a/*"},
                       content_type="application/json")
    assert refused.status_code == 400 and "only its days" in refused.content.decode()

    # Applied (this test's dangling image only: the others are not this test's), saved first, restored untagged.
    job = api.post("/api/retention/apply", {"image_ids": [dangling]}, content_type="application/json")
    from images.models import Job
    job = wait_for_job(Job.objects.get(pk=job.json()["id"]))
    assert job.state == "succeeded", job.error
    assert not exists(dangling) and exists(going_tag) == going_tag
    held = {record["image_id"]: record for record in api.get("/api/retention/quarantine").json()}
    assert (held[dangling]["state"], held[dangling]["tags"]) == ("kept", [])
    restored = api.post(f"/api/retention/quarantine/{held[dangling]['id']}/restore")
    assert restored.status_code == 200, restored.content
    assert exists(dangling) == dangling


@pytest.mark.usefixtures("worker")
def test_the_schedule_applies_the_rules_as_a_job_audited_for_their_author(transactional_db, owner, quarantine_dir):
    from images import tasks
    from images.models import Job

    repository = dockerlib.unique("ret-schedule")
    dockerlib.docker("tag", dockerlib.BASE_IMAGE, f"{repository}:old")
    assert tasks.apply_retention_rules.run() is None  # no rule: no job
    assert not Job.objects.filter(kind="retention").exists()
    bearer(owner).post("/api/retention/rules", {"repository_pattern": repository, "keep_last": 0},
                       content_type="application/json")

    tasks.apply_retention_rules.run()  # as celery beat sends it every DOCKYARD_RETENTION_SCHEDULE_HOURS
    job = wait_for_job(Job.objects.get(kind="retention"))
    assert (job.state, job.created_by, job.params["tags"], job.params["scheduled"]) == (
        "succeeded", owner, [f"{repository}:old"], True), job.error
    assert not dockerlib.existing(f"{repository}:old")
    assert dockerlib.existing(dockerlib.BASE_IMAGE)
    started = AuditEntry.objects.get(action="retention")
    assert (started.via, started.actor, started.outcome) == ("auto", owner, "succeeded")
    assert started.target.startswith("scheduled retention")
    assert AuditEntry.objects.filter(action="untag", target=f"{repository}:old", outcome="ok", actor=owner).exists()
    tasks.apply_retention_rules.run()  # nothing left to go: no second job
    assert Job.objects.filter(kind="retention").count() == 1

"""Disk usage through the API, with tokens: the figures now (as the page and
`docker system df` give them), the samples beat took, and who gets what."""

from datetime import timedelta

from images.accounts import roles
from images.monitoring import disk
from tests.apiclient import bearer
from tests.conftest import make_user
from tests.test_disk import agreement_while_still, sampled


def test_a_builder_gets_each_kind_as_the_engine_reports_it_for_the_same_state(db):
    api = bearer(make_user("builder", roles.BUILDER))

    def read():
        response = api.get("/api/disk")
        assert response.status_code == 200, response.content
        [answered] = response.json()
        assert answered["engine"] == "default" and answered["error"] == ""
        assert answered["size"] == sum(kind["size"] for kind in answered["kinds"].values())
        return answered

    def figures(usage, answered):
        return answered["kinds"][usage.kind], {figure: getattr(usage, figure) for figure in disk.FIGURES}

    compared, disagreed = agreement_while_still(read, figures)
    assert sorted(compared) == sorted(disk.KINDS), disagreed


def test_a_viewer_gets_the_totals_alone(db):
    response = bearer(make_user("viewer", roles.VIEWER)).get("/api/disk")
    assert response.status_code == 200
    [answered] = response.json()
    assert answered["kinds"] is None and answered["size"] > 0 and 0 <= answered["reclaimable"] <= answered["size"]


def test_the_samples_come_oldest_first_since_the_moment_asked(db):
    samples = sampled(3)
    api = bearer(make_user("builder", roles.BUILDER))
    every = api.get("/api/disk/samples").json()
    assert every["engine"] == "default"
    assert every["at"] == [int(sample.at.timestamp()) for sample in samples]
    assert every["columns"]["images_size"] == [sample.images_size for sample in samples]
    assert every["columns"]["total_size"] == [disk.DiskUsage.from_sample(sample).size for sample in samples]
    since = (samples[1].at - timedelta(seconds=1)).isoformat()
    later = api.get("/api/disk/samples", {"since": since, "engine": "default"}).json()
    assert later["at"] == every["at"][1:]
    naive = (samples[2].at - timedelta(seconds=1)).replace(tzinfo=None).isoformat()  # read as UTC
    assert api.get("/api/disk/samples", {"since": naive}).json()["at"] == every["at"][2:]
    viewer = bearer(make_user("viewer", roles.VIEWER)).get("/api/disk/samples").json()
    assert sorted(viewer["columns"]) == ["total_reclaimable", "total_size"]


def test_an_unknown_engine_or_a_moment_that_is_not_one_is_refused(db):
    api = bearer(make_user("builder", roles.BUILDER))
    unknown = api.get("/api/disk/samples", {"engine": "nowhere"})
    assert unknown.status_code == 404 and "nowhere" in unknown.json()["error"]
    assert api.get("/api/disk/samples", {"since": "yesterday'; drop table"}).status_code in (400, 422)
    assert bearer(make_user("nobody", None)).get("/api/disk").status_code == 403

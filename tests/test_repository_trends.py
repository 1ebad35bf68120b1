"""A repository's trends: two classic builds of it through the worker (the second
from the cache) and a tag moved between their images; the API's series against
the jobs and the engine; the page plots them with a table beside, each build
linked to its job, and axe-core finds nothing serious."""

import json

import pytest
from playwright.sync_api import expect

from images.models import Job
from tests import dockerlib
from tests.apiclient import bearer
from tests.conftest import log_in
from tests.live import wait_for_job
from tests.test_accessibility import FAILING_IMPACTS, axe_violations, report

pytestmark = pytest.mark.usefixtures("worker", "base_image")


@pytest.fixture
def built(transactional_db, owner):
    """Two builds of one repository, the second all from the cache; `latest` moved from the first's image to
    the second's (a label makes them two images)."""
    repository = dockerlib.unique("trend")
    api = bearer(owner)
    dockerfile = (f"FROM {dockerlib.BASE_IMAGE}\nRUN dd if=/dev/zero of=/a bs=1024 count=20 && echo {repository}\n"
                  "RUN echo two > /b\n")
    jobs = []
    for number, label in ((1, "one"), (2, "two")):
        started = api.post("/api/builds", json.dumps({
            "source": "dockerfile", "dockerfile_text": dockerfile + f"LABEL which={label}\n",
            "tags": f"{repository}:{number}", "builder": "classic"}), content_type="application/json")
        assert started.status_code == 201, started.content
        job = wait_for_job(Job.objects.get(pk=started.json()["id"]))
        assert job.state == "succeeded", job.error
        jobs.append(job)
        moved = api.post(f"/api/images/{job.image_id}/tags", json.dumps({"repository": repository, "tag": "latest",
                                                                          "move": True}),
                         content_type="application/json")
        assert moved.status_code == 201, moved.content
    return repository, jobs


def test_the_api_gives_a_repositorys_build_and_size_series(built, owner):
    repository, jobs = built
    trends = bearer(owner).get("/api/repositories/trends", {"repository": repository}).json()
    builds, moves = trends["builds"], trends["moves"]
    assert builds["job"] == [job.pk for job in jobs]
    # Classic steps: FROM, two RUNs, the LABEL; the second build's RUNs come from the cache, nothing of the first's.
    assert builds["cache_share"] == [0.0, 0.5]
    layers = [len(json.loads(dockerlib.docker("image", "inspect", "--format", "{{json .RootFS.Layers}}",
                                              job.image_id))) for job in jobs]
    assert builds["layers"] == layers
    assert builds["duration"] == [round((job.finished_at - job.started_at).total_seconds(), 3) for job in jobs]
    sizes = [int(dockerlib.docker("image", "inspect", "--format", "{{.Size}}", job.image_id)) for job in jobs]
    # The moves of `latest` made through the API. When the engine's event listener runs (as it does beside a real
    # Dockyard, and in a suite run once a module has started it), the builds' own tags are moves too.
    latest = [(image_id, size) for tag, image_id, size in zip(moves["tag"], moves["image_id"], moves["size"])
              if tag == f"{repository}:latest"]
    assert latest == list(zip([job.image_id for job in jobs], sizes))
    assert set(moves["tag"]) <= {f"{repository}:latest", f"{repository}:1", f"{repository}:2"}
    assert [size for tag, size in zip(moves["tag"], moves["size"]) if tag.endswith(":1")] in ([], [sizes[0]])
    schema = bearer(owner).get("/api/schema").json()
    assert "/api/repositories/trends" in schema["paths"]


@pytest.mark.browser
def test_the_repository_page_plots_its_trends_linked_to_the_jobs(built, owner, browser, server):
    repository, jobs = built
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    try:
        log_in(page, "owner")
        page.goto(f"/images/{jobs[1].image_id.split(':')[1]}/")
        page.locator("#repository-trend-links").get_by_role("link", name=repository).click()
        expect(page.locator("h1")).to_have_text(f"Trends of {repository}")
        moves = len(bearer(owner).get("/api/repositories/trends", {"repository": repository}).json()["moves"]["tag"])
        for key, points in (("size", moves), ("duration", 2), ("cache_share", 2), ("layers", 2)):
            expect(page.locator(f'.trend-chart[data-key="{key}"] canvas')).to_have_count(1)
            expect(page.locator(f'.trend-chart[data-key="{key}"]')).to_have_attribute("data-points", str(points))
        rows = page.locator("#trend-builds tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("50 %")
        found = [("trends", violation) for violation in axe_violations(page)
                 if violation["impact"] in FAILING_IMPACTS]
        rows.first.get_by_role("link", name=f"job {jobs[1].pk}").click()
        expect(page).to_have_url(f"{server.url}/jobs/{jobs[1].pk}/")
        assert not found, "serious or critical accessibility violations:\n" + report(found)
    finally:
        context.close()

"""What a screen reader or a low-vision reader gets from the pages: the pages
people use most, checked by axe-core in Chromium on the real server (no
violation axe rates serious or critical; an admin looks, so every control is on
the page; the image and jobs are real ones, built and pushed by the worker), and
markup axe cannot judge: table headers that name their columns, flash messages
in a status region."""

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from images.accounts import roles
from images.jobs import control
from images.lifecycle import runs
from images.models import Job, TagMove
from tests import buildcache, dockerlib
from tests.conftest import log_in, make_user
from tests.live import wait_for_job
from tests.test_disk import sampled


# Vendored for the tests only: the app never serves it.
AXE = Path(__file__).parent / "js" / "vendor" / "axe-core-4.14.1" / "axe.min.js"
FAILING_IMPACTS = {"serious", "critical"}
REGISTRY = "127.0.0.1:5000"


def job_from(response):
    assert response.status_code == 302, response.content.decode()[:2000]
    return Job.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


@pytest.fixture
def scene(transactional_db, base_image):
    """An admin, a builder (so the users page has a row to edit), a built image
    with its build job, the push of that image to the local registry, and a
    build that failed."""
    admin = make_user("owner", roles.ADMIN)
    make_user("builder", roles.BUILDER)
    client = Client()
    client.force_login(admin)
    name = f"{REGISTRY}/{dockerlib.unique('a11y')}:1"
    build = wait_for_job(job_from(client.post(reverse("jobs-build"), {
        "source": "dockerfile", "tags": name, "dockerfile": "Dockerfile", "builder": "classic",  # its steps list
        "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\nRUN echo checked by axe\nLABEL {dockerlib.TEST_LABEL}=1\n",
    })))
    assert build.state == "succeeded", build.error
    push = wait_for_job(job_from(client.post(reverse("images-push", args=[build.image_hex]), {"tag": name})))
    assert push.state == "succeeded", push.error
    failed = wait_for_job(job_from(client.post(reverse("jobs-build"), {
        "source": "dockerfile", "tags": "", "dockerfile": "Dockerfile", "builder": "classic",
        "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\nRUN echo about to fail && exit 3\n",
    })))
    assert failed.state == "failed"
    # BuildKit builds, whose pages show the build graph: two stages, then one of two failing.
    buildkit = wait_for_job(job_from(client.post(reverse("jobs-build"), {
        "source": "dockerfile", "tags": "", "dockerfile": "Dockerfile", "builder": "buildkit",
        "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE} AS a\nRUN echo stage a\nFROM {dockerlib.BASE_IMAGE}\n"
                           f"COPY --from=a /bin/sh /a\nLABEL {dockerlib.TEST_LABEL}=1\n",
    })))
    assert buildkit.state == "succeeded", buildkit.error
    buildkit_failed = wait_for_job(job_from(client.post(reverse("jobs-build"), {
        "source": "dockerfile", "tags": "", "dockerfile": "Dockerfile", "builder": "buildkit",
        "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE} AS a\nRUN echo fine\nFROM {dockerlib.BASE_IMAGE} AS b\n"
                           "RUN echo about to fail && exit 3\nFROM a\nCOPY --from=b /bin/sh /b\n",
    })))
    assert buildkit_failed.state == "failed"
    run = wait_for_job(control.start_run(admin, runs.run_params(build.image_id, name, shell="echo hi > /made")))
    assert run.state == "succeeded", run.error
    yield {"build": build, "push": push, "failed": failed, "buildkit": buildkit, "buildkit_failed": buildkit_failed,
           "run": run}
    dockerlib.docker("rmi", "-f", name, check=False)


@pytest.fixture
def admin_page(browser, server, scene):
    # The pages' policy allows only scripts the site serves; axe is injected inline.
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    log_in(page, "owner")
    expect(page.locator("h1")).to_have_text("Images")
    yield page
    context.close()


def axe_violations(page):
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => {
      const results = await axe.run(document, { resultTypes: ["violations"] });
      return results.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((node) => ({ target: node.target.join(" "), summary: node.failureSummary })),
      }));
    }""")


def report(found):
    lines = []
    for where, violation in found:
        lines.append(f"{where}: {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            summary = re.sub(r"\s+", " ", node["summary"] or "")
            lines.append(f"    {node['target']}: {summary[:300]}")
        if len(violation["nodes"]) > 5:
            lines.append(f"    ... and {len(violation['nodes']) - 5} more")
    counts = Counter()
    for _, violation in found:
        counts[violation["id"]] += len(violation["nodes"])
    return "\n".join([*lines, "elements by rule: " + ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items()))])


@pytest.mark.browser
@pytest.mark.usefixtures("worker")
def test_the_main_pages_have_no_serious_or_critical_violation(admin_page, scene, base_image):
    build, push = scene["build"], scene["push"]
    pages = {
        "image list": ("/", "table.images tbody tr"),
        "image page": (reverse("images-detail", args=[build.image_hex]), "#image-provenance dl"),
        "image page of an image Dockyard did not build": (reverse("images-detail", args=[base_image.split(":")[1]]),
                                                          "#image-provenance p"),
        "inferred parent": (reverse("images-parent", args=[build.image_hex]), "#image-parent p"),
        "build job": (build.get_absolute_url(), "#job-steps li"),
        "push job": (push.get_absolute_url(), "#job-progress .layer"),
        "failed build job": (scene["failed"].get_absolute_url(), "#job-steps .step-failed"),
        "BuildKit build job": (scene["buildkit"].get_absolute_url(), "#job-graph .vertex-done"),
        "failed BuildKit build job": (scene["buildkit_failed"].get_absolute_url(),
                                      "#job-graph .vertex-failed .vertex-error"),
        "job list": (reverse("jobs-list"), "table.jobs tbody tr"),
        "build form": (reverse("jobs-build"), "textarea[name=dockerfile_text]"),
        "pull form": (reverse("jobs-pull"), "input[name=reference]"),
        "users": (reverse("users-list"), "#user-list select"),
        "build cache": (reverse("build-cache"), "table.cache-mounts tbody tr"),
        "disk": (reverse("disk"), '.disk-chart[data-series="total"] canvas'),
        "audit log": (reverse("audit-list"), "table.audit tbody tr"),
        "run form": (reverse("images-run", args=[build.image_hex]), "#run-form"),
        "run job": (scene["run"].get_absolute_url(), "#run-changes tbody tr"),
        "password change": (reverse("account-password"), "input[name=old_password]"),
    }
    made = buildcache.build_with_cache_mount()
    sampled(2)  # the Disk page's plots
    found, scanned = [], []
    for where, (url, ready) in pages.items():
        admin_page.goto(url)
        expect(admin_page.locator(ready).first).to_be_visible()
        if where.endswith(" job"):
            # The whole log, rendered: the scan sees what a reader of the page sees.
            expect(admin_page.locator("#job-log")).to_have_attribute("data-lines", re.compile(r"^[1-9]"))
        violations = axe_violations(admin_page)
        scanned.append(f"{where}: " + (", ".join(f"{v['id']} ({v['impact']}) x{len(v['nodes'])}"
                                                  for v in violations) or "none"))
        found += [(where, v) for v in violations if v["impact"] in FAILING_IMPACTS]
    print("\naxe-core " + AXE.parent.name.rsplit("-", 1)[1] + ", every violation:\n  " + "\n  ".join(scanned))
    buildcache.remove(made)
    assert not found, "serious or critical accessibility violations:\n" + report(found)


class HeaderCells(HTMLParser):
    """Each <th> of a page as (its attributes, its text)."""

    def __init__(self):
        super().__init__()
        self.cells, self._open = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "th":
            self._open = (dict(attrs), [])

    def handle_data(self, data):
        if self._open:
            self._open[1].append(data)

    def handle_endtag(self, tag):
        if tag == "th" and self._open:
            self.cells.append((self._open[0], " ".join("".join(self._open[1]).split())))
            self._open = None


def header_cells(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    parser = HeaderCells()
    parser.feed(response.content.decode())
    return parser.cells


@pytest.fixture
def every_table(owner_client, owner, base_image):
    """Something in every table: an image with a tag history and a container, a
    job, a registry login, an API token, own and shared build secrets, a second user."""
    tag = dockerlib.unique("headers") + ":1"
    image_id = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN echo {tag} > /id\n", tags=[tag])
    container = dockerlib.docker("create", "--label", f"{dockerlib.TEST_LABEL}=1", image_id).strip()
    TagMove.record(tag, image_id, "tag")
    make_user("builder", roles.BUILDER)
    control.start_pull(owner, "127.0.0.1:5000/never/sent:1")  # the test's transaction never commits: never sent
    owner_client.post(reverse("registries-new"), {"address": "127.0.0.1:5999", "username": "u",
                                                  "password": "not-a-test-password"})
    owner_client.post(reverse("tokens-list"), {"name": "ci"})
    owner_client.post(reverse("secrets-list"), {"name": "npm_token", "value": "not-a-test-secret"})
    owner_client.post(reverse("secrets-list"), {"name": "deploy_key", "value": "not-a-test-secret", "shared": "on"})
    made = buildcache.build_with_cache_mount()
    yield {"image": image_id.split(":", 1)[1]}
    buildcache.remove(made)
    dockerlib.docker("rm", "-f", container, check=False)
    dockerlib.docker("rmi", "-f", tag, check=False)


def test_every_table_header_names_its_column(owner_client, every_table):
    pages = {
        "image list": reverse("images-list"),
        "image page": reverse("images-detail", args=[every_table["image"]]),
        "job list": reverse("jobs-list"),
        "registries": reverse("registries-list"),
        "secrets": reverse("secrets-list"),
        "tokens": reverse("tokens-list"),
        "users": reverse("users-list"),
        "build cache": reverse("build-cache"),
    }
    seen = {}
    for where, url in pages.items():
        cells = header_cells(owner_client, url)
        seen[where] = len(cells)
        for attrs, text in cells:
            assert attrs.get("scope") == "col", f"{where}: <th> {text!r} has no scope=col"
            assert text, f"{where}: a <th> with no name: {attrs}"
    # The image page has three tables: history, tag history, containers; the build cache three: by type,
    # cache mounts, every record.
    assert seen == {"image list": 7, "image page": 14, "job list": 7, "registries": 4, "secrets": 6, "tokens": 5,
                    "users": 3, "build cache": 17}


def test_flash_messages_are_in_a_status_region(owner_client, owner):
    response = owner_client.post(reverse("users-role", args=[owner.pk]), {"role": "viewer"}, follow=True)
    page = response.content.decode()
    region = re.search(r'<div role="status"><ul class="messages">(.*?)</ul></div>', page, re.S)
    assert region and "You cannot change your own role" in region[1]

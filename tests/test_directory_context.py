"""Server directories as build contexts: the tar Dockyard sends holds only what
is inside the build root, whatever a builder who can write there changes while
it is read, and leaves out what .dockerignore leaves out, as the docker CLI does."""

import io
import os
import shutil
import tarfile
import uuid

import pytest
from django.urls import reverse

from images.jobs import logstore
from images.builds import contexts
from images.engine import EngineError, get_engine
from images.models import Job
from tests import dockerlib, live
from tests.live import wait_for_job

SECRET = f"worker-secret-{uuid.uuid4().hex}"
SWAP_DOCKERFILE = (f"FROM {dockerlib.BASE_IMAGE}\nCOPY . /ctx\nRUN cat /ctx/sub/secret.txt || true\n"
                   f"LABEL {dockerlib.TEST_LABEL}=1\n")


@pytest.fixture
def build_root(settings):
    root = live.build_root()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    settings.DOCKYARD_BUILD_ROOTS = [str(root)]
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def outside(tmp_path):
    """A directory outside every build root holding a file as secret as the worker's keys."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(SECRET + "\n")
    return folder


@pytest.fixture
def tar_members(monkeypatch):
    """Every member written into a tar in this process, with its data (passed
    through unchanged), and a way to run a callback right after a given one."""
    written, after = [], {}
    original = tarfile.TarFile.addfile

    def addfile(tar, tarinfo, fileobj=None, *args, **kwargs):
        data = fileobj.read(tarinfo.size) if fileobj is not None else b""
        written.append((tarinfo.name, tarinfo.type, data))
        result = original(tar, tarinfo, io.BytesIO(data) if fileobj is not None else None, *args, **kwargs)
        if tarinfo.name.rstrip("/") in after:
            after.pop(tarinfo.name.rstrip("/"))()
        return result

    monkeypatch.setattr(tarfile.TarFile, "addfile", addfile)
    return written, after


def swapper(project, outside, away):
    """Rename project/sub away and put a symlink to `outside` in its place, for real."""
    def swap():
        os.rename(project / "sub", away)
        (project / "sub").symlink_to(outside, target_is_directory=True)
    return swap


@pytest.mark.parametrize("swap_after", ["Dockerfile", "sub"])
def test_it_never_sends_a_file_from_outside_the_root_when_a_directory_is_swapped_mid_walk(
        base_image, build_root, outside, tar_members, swap_after):
    project = build_root / "project"
    (project / "sub").mkdir(parents=True)
    (project / "Dockerfile").write_text(SWAP_DOCKERFILE)
    (project / "sub" / "secret.txt").write_text("inside the root, harmless\n")
    written, after = tar_members
    # "Dockerfile": before the walk reaches sub; "sub": once it has taken sub for a directory.
    after[swap_after] = swapper(project, outside, build_root / "away")

    params = {"source": "directory", "directory": str(project), "dockerfile": "Dockerfile", "no_cache": True}
    messages = []
    try:
        with contexts.build_arguments(params) as arguments:
            messages = list(get_engine().stream().build(**arguments))
    except (contexts.ContextError, EngineError):
        pass  # a failed build is fine, so long as the secret was never sent

    assert not after, "the swap never happened: the walk did not reach its point"
    assert written, "no tar was written"
    assert not [name for name, _, data in written if SECRET.encode() in data]
    assert not any(SECRET in str(message) for message in messages)
    image_id = next((m["aux"]["ID"] for m in messages if isinstance(m.get("aux"), dict) and "ID" in m["aux"]), None)
    if image_id:
        saved = b"".join(get_engine().save_images([image_id]))
        assert SECRET.encode() not in saved


def test_it_refuses_a_directory_that_became_a_symlink_to_outside(base_image, build_root, outside):
    project = build_root / "project"
    project.symlink_to(outside, target_is_directory=True)
    with pytest.raises(contexts.ContextError, match="not inside an allowed build root"):
        with contexts.build_arguments({"source": "directory", "directory": str(project)}):
            pass


def test_it_opens_the_root_without_following_a_symlink_made_after_the_check(build_root, outside, monkeypatch):
    inside = build_root / "inside"
    inside.mkdir()
    (build_root / "link").symlink_to(outside, target_is_directory=True)
    (build_root / "through").symlink_to(outside.parent, target_is_directory=True)
    # As if the path had been checked just before a builder swapped it: the
    # check passes it unchanged, and the symlinks on disk are real.
    monkeypatch.setattr(contexts, "resolve_directory", lambda path: path)
    with pytest.raises(contexts.ContextError, match="could not be opened as a directory"):
        contexts.open_directory(str(build_root / "link"))
    with pytest.raises(contexts.ContextError, match="not inside an allowed build root"):
        contexts.open_directory(str(build_root / "through" / "outside"))  # a symlink before the last component
    os.close(contexts.open_directory(str(inside)))


def test_it_stores_symlinks_as_symlinks_and_skips_fifos(build_root, outside):
    project = build_root / "project"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM scratch\n")
    (project / "out").symlink_to(outside / "secret.txt")
    os.mkfifo(project / "pipe")
    with contexts.directory_context(str(project), "Dockerfile") as context, tarfile.open(fileobj=context) as tar:
        members = {member.name: member for member in tar.getmembers()}
    assert sorted(members) == ["Dockerfile", "out"]
    assert members["out"].issym() and members["out"].linkname == str(outside / "secret.txt")


LISTED = ("RUN echo BEGIN-LIST && cd /ctx && find . | sort && echo LINKS && find . -type l | sort "
          "&& cat keep.log && echo END-LIST")
IGNORED_TREE = {
    "Dockerfile": f"FROM {dockerlib.BASE_IMAGE}\nCOPY . /ctx\n{LISTED}\nLABEL {dockerlib.TEST_LABEL}=1\n",
    ".dockerignore": "# comments and blank lines are skipped\n\n*.log\n!keep.log\nsecret/\n**/*.tmp\n"
                     "docs\n!docs/README.md\nDockerfile\n",
    "a.log": "left out\n",
    "keep.log": "kept by an exception\n",
    "secret/key": "left out\n",
    "deep/er/file.tmp": "left out\n",
    "deep/er/file.txt": "kept\n",
    "docs/other.md": "left out\n",
    "docs/README.md": "kept by an exception\n",
}


def listing(lines):
    lines = [line.strip() for line in lines]
    return lines[lines.index("BEGIN-LIST") + 1:lines.index("END-LIST")]


@pytest.mark.usefixtures("worker")
def test_it_leaves_out_what_dockerignore_says_as_the_docker_cli_does(builder_client, build_root):
    project = build_root / "ignored"
    for name, text in IGNORED_TREE.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    (project / "link").symlink_to("deep/er/file.txt")

    response = builder_client.post(reverse("jobs-build"), {
        "source": "directory", "directory": str(project), "dockerfile": "Dockerfile", "no_cache": "on",
        # Against `docker build` with DOCKER_BUILDKIT=0: the classic engine drops an ignored Dockerfile itself.
        "builder": "classic"})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = wait_for_job(Job.objects.get())
    assert job.state == "succeeded", job.error
    ours = listing(live.printed_lines(logstore.texts(job)))

    cli = dockerlib.docker("build", "--no-cache", "--label", f"{dockerlib.TEST_LABEL}=1", str(project))
    assert ours == listing(cli.splitlines())
    assert "./keep.log" in ours and "./docs/README.md" in ours and "./deep/er/file.txt" in ours
    # The Dockerfile was sent (the build ran) though .dockerignore names it; the engine then drops it.
    assert "./Dockerfile" not in ours and "./.dockerignore" in ours
    for left_out in ("./a.log", "./secret", "./deep/er/file.tmp", "./docs/other.md"):
        assert left_out not in ours
    assert ours[ours.index("LINKS") + 1:] == ["./link", "kept by an exception"]


@pytest.mark.django_db
def test_the_worker_checks_the_dockerfile_it_sends_not_the_one_it_read_before(build_root, tar_members):
    """The Dockerfile is clean when the worker could first read it by its path, and
    changed (for real, on disk) while the context is being written: the check
    must be of the copy that goes to the engine."""
    from images.builds import fetches
    from images.jobs import running

    project = build_root / "changing"
    project.mkdir()
    (project / "A.txt").write_text("sorted before the Dockerfile\n")
    (project / "Dockerfile").write_text(f"FROM {dockerlib.BASE_IMAGE}\nRUN true\n")
    _, after = tar_members
    after["A.txt"] = lambda: (project / "Dockerfile").write_text(
        f"FROM {dockerlib.BASE_IMAGE}\nADD http://169.254.169.254/latest/meta-data/ /x\n")
    job = Job(kind=Job.Kind.BUILD, params={"source": "directory", "directory": str(project)})
    with pytest.raises(fetches.FetchRefused, match="169.254.169.254, a link-local address"):
        running._build(job, stream=None, output=None)

"""docs/api.md's examples, run as they are written: each shell block of its
Examples, in order, in one bash with real curl and jq, against the live server
and worker, with a real token. Only the address is replaced, and AUTH set; team/app is named for the run."""

import json
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from images.models import ApiToken
from tests import dockerlib

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "api.md"
ADDRESS = "http://127.0.0.1:8000"


def examples():
    """The ```sh blocks under ## Examples."""
    text = GUIDE.read_text()
    section = text[text.index("\n## Examples"):]
    return re.findall(r"```sh\n(.*?)```", section, re.DOTALL)


def test_the_guide_has_its_examples_and_names_one_address():
    blocks = examples()
    assert len(blocks) >= 8
    assert all("curl" in block or "finished" in block for block in blocks)
    # a dockerfile_text through -F is cut at its first ';'
    assert not re.search(r"-F dockerfile_text=", "".join(blocks))
    addresses = set(re.findall(r"https?://[\w.:-]+", "".join(blocks)))
    assert addresses == {ADDRESS}


@pytest.mark.usefixtures("worker")
def test_every_example_in_the_guide_runs_against_a_live_dockyard(transactional_db, server, owner, tmp_path):
    _, token = ApiToken.issue(owner, "guide")
    # The Dockerfile "in this directory": this run's label, so the session removes what it builds.
    (tmp_path / "Dockerfile").write_text(f"FROM {dockerlib.BASE_IMAGE}\nLABEL {dockerlib.TEST_LABEL}=guide\n"
                                         "RUN echo built; echo by the guide > /guide\n")
    blocks = examples()
    script = [
        "set -eo pipefail",
        # Every call must succeed: curl exits non-zero, with the body, on an HTTP error.
        'curl() { command curl --fail-with-body --show-error "$@"; }',
    ]
    # The guide's team/app, named for this run: two runs on one engine, or one after another, never share a tag.
    repo = dockerlib.unique("guide")
    for number, block in enumerate(blocks):
        script += [f"echo '::block {number}'", block.replace(ADDRESS, server.url).replace("team/app", repo)]
    script.append('echo "::ids $id $ci"')
    ran = subprocess.run(["bash", "-c", "\n".join(script)], cwd=tmp_path, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "AUTH": f"Authorization: Bearer {token}"}, timeout=240)
    output = dict(re.findall(r"::block (\d+)\n(.*?)(?=::block|::ids|\Z)", ran.stdout, re.DOTALL))
    assert ran.returncode == 0, (ran.stdout[-3000:], ran.stderr[-3000:])
    image_id, ci_id = re.search(r"::ids (\S+) (\S+)", ran.stdout).groups()

    def output_of(example):
        """What the block holding `example` printed."""
        return output[str(next(number for number, block in enumerate(blocks) if example in block))]

    # The build's output, as it came; its image, as the engine holds it.
    built = output_of("--rawfile text Dockerfile")
    assert "built" in built and "by the guide" in built, built
    assert dockerlib.image_id(f"{repo}:dev") == image_id
    assert dockerlib.image_id(f"127.0.0.1:5000/{repo}:1.0") == image_id  # tagged by its sha256: id
    # The upload's build finished, and was removed at the end with its tag.
    assert output_of("context=@context.tar").strip() == "succeeded"
    assert dockerlib.docker("image", "inspect", ci_id, check=False).strip() == "[]"
    # The push was started by the short id.
    tagged, push_job = output_of("/push").split()
    assert tagged == f'"127.0.0.1:5000/{repo}:1.0"' and int(push_job) > 0
    with tarfile.open(tmp_path / "app.tar") as archive:
        assert json.load(archive.extractfile("manifest.json"))[0]["Config"].startswith(image_id[7:19])
    printed = output_of("/api/prune").strip()
    preview, end = json.JSONDecoder().raw_decode(printed)  # curl prints the two answers back to back
    pruned = json.loads(printed[end:])
    assert (preview["images"], preview["bytes_freed"]) == ([], 0)  # what the prune then did: nothing
    assert pruned == {"deleted": 0, "reclaimed": 0}
    # The index ran, and the files of the top layer are there.
    files = output_of("/index")
    assert files.startswith("succeeded\nsucceeded\n") and "/guide" in files, files
    assert json.loads(output_of("-X DELETE"))["removed"] == ci_id
    # The provenance of the build, kept as a file named for the image.
    assert image_id[len("sha256:"):] in "".join(path.read_text() for path in tmp_path.glob("*.provenance.json"))

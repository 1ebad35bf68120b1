"""Provenance recorded at every Dockyard build (images/builds/provenance.py) and
served as an in-toto statement with a SLSA v1 predicate (attestation.py), through
a real worker, engine and registry."""

import hashlib
import io
import json
import tarfile

import jsonschema
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from images.builds.provenance import base_images
from images.models import BuildSecret, Provenance
from tests import dockerlib
from tests.conftest import BUILD_SECRET
from tests.live import job_from, start_build, wait_for_job
from tests.provenance_schemas import validate_statement


def test_it_names_each_base_with_the_values_the_build_gives_its_variables():
    text = ("ARG BASE=python:3.11\nARG TAG\nFROM ${BASE} AS build\nRUN make\n"
            "FROM --platform=linux/amd64 busybox:${TAG:-1.36}\nCOPY --from=build /a /a\n"
            "COPY --from=alpine:3.19 /etc/os-release /\nCOPY --from=0 /b /b\nFROM scratch\nFROM build\n")
    assert base_images(text, {"BASE": "python:3.12"}) == [
        {"instruction": "FROM", "line": 3, "reference": "python:3.12"},
        {"instruction": "FROM", "line": 5, "reference": "busybox:1.36"},
        {"instruction": "COPY --from", "line": 7, "reference": "alpine:3.19"},
    ]


def test_the_schemas_refuse_a_statement_with_a_field_the_specification_lacks():
    statement = {"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://slsa.dev/provenance/v1",
                 "subject": [{"name": "a", "digest": {"sha256": "a" * 64}}],
                 "predicate": {"buildDefinition": {"buildType": "https://example.invalid/t", "externalParameters": {}},
                               "runDetails": {"builder": {"id": "https://example.invalid/b"}}}}
    validate_statement(statement)
    statement["predicate"]["runDetails"]["builder"]["name"] = "not a SLSA field"
    with pytest.raises(jsonschema.ValidationError):
        validate_statement(statement)


@pytest.fixture(scope="module")
def pushed_base(open_registry):
    """A base image on the tests' registry, so that it has a repo digest."""
    reference = f"{open_registry.address}/{dockerlib.unique('prov-base')}:1"
    dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL prov=base\n", tags=[reference])
    dockerlib.docker("push", reference)
    digest = dockerlib.docker("image", "inspect", "--format", "{{index .RepoDigests 0}}", reference).strip()
    return {"reference": reference, "id": dockerlib.image_id(reference), "digest": digest.split("@", 1)[1]}


@pytest.mark.usefixtures("worker")
def test_a_classic_build_records_the_base_it_used_and_serves_it_as_a_statement(builder_client, pushed_base):
    tag = dockerlib.unique("prov-app") + ":1"
    text = f"ARG BASE={dockerlib.BASE_IMAGE}\nFROM $BASE\nLABEL {dockerlib.TEST_LABEL}=1\n"
    job = wait_for_job(start_build(builder_client, text, tags=tag, builder="classic",
                                   build_args=f"BASE={pushed_base['reference']}\nGREETING=hello"))
    assert job.state == "succeeded", job.error
    record = Provenance.objects.get(job=job)
    assert record.bases == [{"instruction": "FROM", "line": 2, "reference": pushed_base["reference"],
                             "image_id": pushed_base["id"], "repo_digest": pushed_base["digest"],
                             "resolved": "when the build started"}]
    assert record.build_args == {"BASE": pushed_base["reference"], "GREETING": "hello"}
    sent = job.params["dockerfile_text"]  # the form's text: its line ends as a browser sends them
    assert sent.split() == text.split()
    assert record.dockerfile_sha256 == "sha256:" + hashlib.sha256(sent.encode()).hexdigest()
    assert (record.source, record.builder, record.target) == ({"kind": "dockerfile"}, "classic", "")

    image_hex = job.image_id.split(":", 1)[1]
    response = builder_client.get(f"/api/images/{image_hex}/provenance")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/vnd.in-toto+json"
    assert response["Content-Disposition"] == f'attachment; filename="{image_hex[:12]}.provenance.json"'
    statement = json.loads(response.content)
    validate_statement(statement)
    assert statement["subject"] == [{"name": tag, "digest": {"sha256": image_hex}}]
    definition = statement["predicate"]["buildDefinition"]
    base = definition["resolvedDependencies"][0]
    assert base["name"] == pushed_base["reference"]
    assert base["digest"] == {"sha256": pushed_base["digest"].split(":", 1)[1]}
    assert base["annotations"]["imageId"] == pushed_base["id"] == dockerlib.image_id(pushed_base["reference"])
    assert definition["externalParameters"]["buildArgs"] == {"BASE": pushed_base["reference"], "GREETING": "hello"}
    assert definition["internalParameters"]["startedBy"] == "builder"
    assert statement["predicate"]["runDetails"]["metadata"]["invocationId"] == str(job.pk)

    page = builder_client.get(reverse("images-detail", args=[image_hex])).content.decode()
    shown = " ".join(page.split('id="image-provenance"', 1)[1].split("</section>", 1)[0].split())
    assert f'job {job.pk}</a> by builder' in shown
    assert f"{pushed_base['reference']}</code></dt>" in shown and pushed_base["id"] in shown
    download = builder_client.get(reverse("images-provenance", args=[image_hex]))
    assert reverse("images-provenance", args=[image_hex]) in shown
    assert download["Content-Disposition"] == response["Content-Disposition"]
    assert json.loads(download.content) == statement


@pytest.mark.usefixtures("worker")
def test_a_buildkit_build_records_its_base_and_its_secrets_by_id_only(builder, builder_client, pushed_base):
    secret = BuildSecret(owner=builder, name="prov_token")
    secret.set_value(BUILD_SECRET)
    secret.save()
    text = (f"FROM {pushed_base['reference']} AS base\nFROM base\n"
            "RUN --mount=type=secret,id=prov_token test -s /run/secrets/prov_token\n"
            f"LABEL {dockerlib.TEST_LABEL}=1\n")
    job = wait_for_job(start_build(builder_client, text, builder="buildkit", secrets=["prov_token"]))
    assert job.state == "succeeded", job.error
    record = Provenance.objects.get(job=job)
    assert record.builder == "buildkit" and record.secret_ids == ["prov_token"]
    assert [(base["reference"], base["image_id"]) for base in record.bases] == [
        (pushed_base["reference"], pushed_base["id"])]
    body = builder_client.get(f"/api/images/{job.image_id.split(':', 1)[1]}/provenance").content.decode()
    validate_statement(json.loads(body))
    assert '"prov_token"' in body and BUILD_SECRET not in body


def test_an_image_dockyard_did_not_build_has_no_provenance_to_download(builder_client, base_image):
    image_hex = base_image.split(":", 1)[1]
    response = builder_client.get(f"/api/images/{image_hex}/provenance")
    assert response.status_code == 404
    assert "no build of this image" in response.json()["error"]
    assert builder_client.get(reverse("images-provenance", args=[image_hex])).status_code == 404


def test_the_provenance_needs_a_login(client, base_image):
    assert client.get(f"/api/images/{base_image.split(':', 1)[1]}/provenance").status_code == 401


@pytest.mark.usefixtures("worker")
def test_an_uploaded_context_is_recorded_by_its_digest(builder_client):
    dockerfile = f"FROM {dockerlib.BASE_IMAGE}\nCOPY hello.txt /\nLABEL {dockerlib.TEST_LABEL}=1\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in (("Dockerfile", dockerfile), ("hello.txt", "hello\n")):
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    upload = buffer.getvalue()
    job = job_from(builder_client.post(reverse("jobs-build"), {
        "source": "upload", "dockerfile": "Dockerfile", "builder": "classic",
        "context": SimpleUploadedFile("ctx.tar.gz", upload)}))
    job = wait_for_job(job)
    assert job.state == "succeeded", job.error
    record = Provenance.objects.get(job=job)
    assert record.source == {"kind": "upload", "name": "ctx.tar.gz",
                             "sha256": "sha256:" + hashlib.sha256(upload).hexdigest()}
    assert record.dockerfile_sha256 == "sha256:" + hashlib.sha256(dockerfile.encode()).hexdigest()
    assert [base["image_id"] for base in record.bases] == [dockerlib.image_id(dockerlib.BASE_IMAGE)]

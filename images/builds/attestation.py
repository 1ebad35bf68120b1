"""A build's provenance as an in-toto Statement (v1) with a SLSA v1 provenance
predicate, made from the in-toto-attestation package's messages so that a field
the specification does not have fails at once."""

import json

from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import Statement

from images.refs import hex_id

PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
MEDIA_TYPE = "application/vnd.in-toto+json"
# Dockyard's own build type: the parameters below are what its build form takes.
BUILD_TYPE = "https://dockyard.invalid/build-types/docker-build/v1"


def statement(record):
    """The statement (a dict, as JSON carries it) for a Provenance record."""
    job = record.job
    subject = ResourceDescriptor(name=(job.params.get("tags") or [job.image_id])[0],
                                 digest={"sha256": hex_id(job.image_id)})
    predicate = provenance_pb2.Provenance()
    definition = predicate.build_definition
    definition.build_type = BUILD_TYPE
    definition.external_parameters.update(_external_parameters(record))
    definition.internal_parameters.update({
        "job": job.pk, "engine": job.engine, "startedBy": job.created_by.get_username() if job.created_by else "",
        "noCache": bool(job.params.get("no_cache")), "pull": bool(job.params.get("pull")),
        **({"rebuildOf": job.retry_of_id} if job.retry_of_id else {}),
    })
    definition.resolved_dependencies.extend(_dependencies(record))
    details = predicate.run_details
    details.builder.id = f"{BUILD_TYPE}#builder={record.builder}"
    details.builder.version["dockyard-builder"] = record.builder
    details.metadata.invocation_id = str(job.pk)
    if job.started_at:
        details.metadata.started_on.FromDatetime(job.started_at)
    if job.finished_at:
        details.metadata.finished_on.FromDatetime(job.finished_at)
    made = Statement([subject.pb], PREDICATE_TYPE, json_format.MessageToDict(predicate))
    made.validate()
    return json_format.MessageToDict(made.pb)


def as_json(record):
    return json.dumps(statement(record), indent=2, sort_keys=True)


def filename(record):
    return f"{hex_id(record.job.image_id)[:12]}.provenance.json"


def _external_parameters(record):
    params = record.job.params
    return {
        "source": record.source,
        "dockerfile": {"path": params.get("dockerfile") or "Dockerfile", "sha256": record.dockerfile_sha256},
        "buildArgs": record.build_args,
        "secrets": record.secret_ids,
        "target": record.target,
        "tags": list(params.get("tags") or []),
        "builder": record.builder,
    }


def _dependencies(record):
    """Each base as it was resolved, then the source where it has a digest."""
    found = []
    for base in record.bases:
        annotations = {"instruction": base["instruction"], "line": base["line"], "resolved": base["resolved"]}
        if base["image_id"]:
            annotations["imageId"] = base["image_id"]
        previous = base.get("previous")
        if previous:  # a rebuild on a base that has moved: the one it replaced
            annotations["previousImageId"] = previous["image_id"]
            annotations["previousDigest"] = previous["repo_digest"]
        digest = {"sha256": hex_id(base["repo_digest"])} if base["repo_digest"] else None
        found.append(ResourceDescriptor(name=base["reference"], uri=f"docker-image://{base['reference']}",
                                        digest=digest, annotations=annotations).pb)
    source = record.source
    if source.get("sha256"):
        found.append(ResourceDescriptor(name=source.get("name") or source.get("path") or "context",
                                        digest={"sha256": hex_id(source["sha256"])},
                                        annotations={"kind": source["kind"]}).pb)
    elif source.get("kind") == "git":
        found.append(ResourceDescriptor(uri=f"git+{source['url']}",
                                        digest={"gitCommit": source["commit"]} if source["commit"] else None,
                                        annotations={"resolved": source["resolved"]}).pb)
    if record.dockerfile_sha256:
        found.append(ResourceDescriptor(name="Dockerfile", digest={"sha256": hex_id(record.dockerfile_sha256)}).pb)
    return found

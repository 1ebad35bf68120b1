import json
import os
from pathlib import Path

import pytest

from images.refs import (
    InvalidReference,
    familiar_name,
    full_name,
    is_image_id,
    names_registry,
    parse_reference,
    registry_of,
    split_domain,
    split_host_port,
    split_repo_tag,
)

VALID = [
    ("busybox", ("busybox", None, None)),
    ("library/busybox:1.36", ("library/busybox", "1.36", None)),
    ("127.0.0.1:5000/team/app:v1.2.3", ("127.0.0.1:5000/team/app", "v1.2.3", None)),
    ("localhost/app_x__y.z-w", ("localhost/app_x__y.z-w", None, None)),
    ("Registry.Example.com/app", ("Registry.Example.com/app", None, None)),
    ("app@sha256:" + "a" * 64, ("app", None, "sha256:" + "a" * 64)),
    ("app:1@sha256:" + "b" * 64, ("app", "1", "sha256:" + "b" * 64)),
    ("[::1]:5000/app:1", ("[::1]:5000/app", "1", None)),
    ("x" * 247, ("x" * 247, None, None)),  # library/ + 247: 255
    ("example.com/" + "a" * 255, ("example.com/" + "a" * 255, None, None)),
]
INVALID = [
    ("", "cannot be empty"),
    ("Busybox", "lowercase"),
    ("team/App", "lowercase"),
    ("app:-x", "tag '-x' is not valid"),
    ("app:.x", "tag '.x' is not valid"),
    ("app:" + "x" * 129, "is not valid"),
    ("app@sha256:abc", "digest"),
    ("app@sha256:" + "a" * 63, "64 lowercase hex digits"),
    ("a b", "spaces"),
    (" app", "spaces"),
    ("app//x", "not a valid image reference"),
    ("app_", "not a valid image reference"),
    ("-app", "not a valid image reference"),
    ("x" * 256, "limit is 255"),
    ("x" * 248, "limit is 255"),
    ("a" * 64, "image id"),
    ("app;rm -rf /", "spaces"),
    ("--help", "not a valid image reference"),
]


@pytest.mark.parametrize("text, parts", VALID)
def test_it_accepts_valid_references(text, parts):
    assert parse_reference(text) == parts


@pytest.mark.parametrize("text, reason", INVALID)
def test_it_rejects_invalid_references_with_a_reason(text, reason):
    with pytest.raises(InvalidReference, match=reason):
        parse_reference(text)


def test_it_splits_tags_after_a_registry_port():
    assert split_repo_tag("127.0.0.1:5000/app:1.0") == ("127.0.0.1:5000/app", "1.0")
    assert split_repo_tag("127.0.0.1:5000/app") == ("127.0.0.1:5000/app", "")


def test_it_knows_image_ids():
    assert is_image_id("sha256:" + "c" * 64)
    assert is_image_id("c" * 12)
    assert not is_image_id("c" * 11)
    assert not is_image_id("busybox")


@pytest.mark.parametrize("reference, familiar", [
    ("docker.io/library/app:latest", "app:latest"),
    ("app", "app:latest"),
    ("library/app:1", "app:1"),
    ("docker.io/app", "app:latest"),
    ("index.docker.io/team/app", "team/app:latest"),
    ("docker.io/library/team/app", "library/team/app:latest"),
    ("localhost/app", "localhost/app:latest"),
    ("127.0.0.1:5000/team/app:v2", "127.0.0.1:5000/team/app:v2"),
    ("Registry.Example.com/app", "Registry.Example.com/app:latest"),
    ("app@sha256:" + "a" * 64, "app@sha256:" + "a" * 64),
    ("docker.io/library/app:1@sha256:" + "a" * 64, "app:1@sha256:" + "a" * 64),
])
def test_it_gives_the_familiar_name_the_engine_shows(reference, familiar):
    assert familiar_name(reference) == familiar


def test_it_refuses_a_familiar_name_for_an_invalid_reference():
    with pytest.raises(InvalidReference):
        familiar_name("Evil/app")


@pytest.mark.parametrize("reference, names, full", [
    ("walk-two:1", False, "docker.io/library/walk-two:1"),
    ("team/app", False, "docker.io/team/app"),
    ("docker.io/library/app:1", True, "docker.io/library/app:1"),
    ("index.docker.io/team/app:1", True, "docker.io/team/app:1"),
    ("127.0.0.1:5000/app:1", True, "127.0.0.1:5000/app:1"),
    ("localhost/app", True, "localhost/app"),
    ("registry.example.com/team/app@sha256:" + "a" * 64, True, "registry.example.com/team/app@sha256:" + "a" * 64),
])
def test_a_push_knows_whether_its_reference_names_the_registry(reference, names, full):
    assert names_registry(reference) is names
    assert full_name(reference) == full


# distribution/reference's own cases (see shared/peers/README.md). CI keeps shared/
# beside the clone; a checkout elsewhere names the folder in DOCKYARD_SHARED.
PEER_CASES = Path(os.environ.get("DOCKYARD_SHARED") or Path(__file__).resolve().parents[1] / ".." / "shared") / \
    "peers" / "distribution-reference-cases.json"

# Where Dockyard refuses on purpose what the peer takes: a first component with
# capitals and no '.' or ':' is a registry host to the peer (`Docker` in
# `Docker/docker`), while Engine 20.10 refuses it; Dockyard refuses it, so that a
# name that reads like Docker Hub's never takes a Docker Hub login to that host.
DELIBERATE = {
    "Docker/docker": "'Docker' has capitals", "DOCKER/docker": "'DOCKER' has capitals",
    "LOCALDOMAIN/debian": "'LOCALDOMAIN' has capitals", "LOCALDOMAIN/library/debian": "'LOCALDOMAIN' has capitals",
    "LOCALDOMAIN/fooo": "'LOCALDOMAIN' has capitals", "LOCALDOMAIN/fooo/bar": "'LOCALDOMAIN' has capitals",
    "Foo/bar": "'Foo' has capitals", "FOO/bar": "'FOO' has capitals",
}
# The peer's Parse takes any first component before a '/' as a domain; as a name
# the engine pulls, `foo/…` is Docker Hub's (`foo` names no host).
PARSE_DOMAIN = {"foo/foo_bar.com:8080": "docker.io"}


def peer_checks():
    """(input, what the peer says of it) for every case of the peer's file:
    ('valid', name, tag, digest, registry), ('full', registry, full name, remote
    name, familiar name), or ('invalid', error)."""
    cases = json.loads(PEER_CASES.read_text())
    for case in cases["parse"]:
        if case["err"]:
            yield case["input"], ("invalid", case["err"])
        else:
            registry = PARSE_DOMAIN.get(case["input"], case.get("domain") or "docker.io")
            yield case["input"], ("valid", case["repository"], case.get("tag"), case.get("digest"), registry)
    for case in cases["repository_info"]:
        for name in (case["FamiliarName"], case["FullName"], case["AmbiguousName"]):
            if name:
                yield name, ("full", case["Domain"], case["FullName"], case["RemoteName"], case["FamiliarName"])
    for name in cases["valid_names"]:
        yield name, ("name",)
    for name in cases["invalid_names"]:
        yield name, ("invalid", "")


def dockyard_agrees(text, peer):
    """None when Dockyard reads `text` as the peer does, else what Dockyard says."""
    try:
        name, tag, digest = parse_reference(text)
    except InvalidReference as exc:
        return None if peer[0] == "invalid" else f"refused: {exc}"
    kind = peer[0]
    if kind == "invalid":
        return "accepted"
    if kind == "valid":
        ours = ("valid", name, tag, digest, registry_of(text))
    elif kind == "full":
        domain, path = split_domain(name)
        ours = ("full", domain, f"{domain}/{path}", path, familiar_name(text).removesuffix(":latest"))
    else:
        ours = ("name",)
    return None if ours == peer else f"read as {ours}"


def test_it_reads_every_case_of_distribution_reference_as_it_does():
    checks = list(peer_checks())
    assert len(checks) == 134
    disagreements = [f"{text[:80]!r}: the peer {peer}, Dockyard {verdict}" for text, peer in checks
                     if text not in DELIBERATE and (verdict := dockyard_agrees(text, peer)) is not None]
    assert not disagreements, "\n".join(disagreements)
    assert {text for text, _ in checks} >= set(DELIBERATE)


@pytest.mark.parametrize("text, reason", DELIBERATE.items())
def test_it_refuses_a_capitalised_first_component_on_purpose_and_says_why(text, reason):
    with pytest.raises(InvalidReference, match=reason) as refused:
        parse_reference(text)
    assert "a Docker Hub login is never sent to such a host" in str(refused.value)


@pytest.mark.parametrize("text, reason", [
    ("repo@sha256:" + "f" * 34, "64 lowercase hex digits; this one has 34"),
    ("repo@sha256:" + "F" * 64, "this one has 64 and capitals"),
    ("validname@sha512:" + "f" * 128, "algorithm 'sha512' is not supported"),
    ("validname@invaliddigest:" + "f" * 64, "algorithm 'invaliddigest' is not supported"),
    ("[fe80::1%eth0]:5000/repo", "written in brackets"),
    ("[1:2:3]:5000/repo", r"\[1:2:3\] is not an IPv6 address"),
    ("domain/" + "a" * 256 + ":tag", "263 characters as the registry reads it"),
    ("a" * 248, "256 characters as the registry reads it"),  # library/ + 248
])
def test_it_says_what_is_wrong_with_a_digest_host_or_length(text, reason):
    with pytest.raises(InvalidReference, match=reason):
        parse_reference(text)


@pytest.mark.parametrize("host, parts", [
    ("registry:5000", ("registry", "5000")), ("registry", ("registry", "")), ("[::1]:5000", ("[::1]", "5000")),
    ("[::1]", ("[::1]", "")), ("[2001:db8::1]:443", ("[2001:db8::1]", "443")),
])
def test_it_splits_a_host_from_its_port(host, parts):
    assert split_host_port(host) == parts

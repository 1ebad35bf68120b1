import pytest

from images.refs import (InvalidReference, familiar_name, full_name, is_image_id, names_registry, parse_reference,
                         split_repo_tag)

VALID = [
    ("busybox", ("busybox", None, None)),
    ("library/busybox:1.36", ("library/busybox", "1.36", None)),
    ("127.0.0.1:5000/team/app:v1.2.3", ("127.0.0.1:5000/team/app", "v1.2.3", None)),
    ("localhost/app_x__y.z-w", ("localhost/app_x__y.z-w", None, None)),
    ("Registry.Example.com/app", ("Registry.Example.com/app", None, None)),
    ("app@sha256:" + "a" * 64, ("app", None, "sha256:" + "a" * 64)),
    ("app:1@sha256:" + "b" * 64, ("app", "1", "sha256:" + "b" * 64)),
]
INVALID = [
    ("", "cannot be empty"),
    ("Busybox", "lowercase"),
    ("team/App", "lowercase"),
    ("app:-x", "tag '-x' is not valid"),
    ("app:.x", "tag '.x' is not valid"),
    ("app:" + "x" * 129, "is not valid"),
    ("app@sha256:abc", "digest"),
    ("a b", "spaces"),
    (" app", "spaces"),
    ("app//x", "not a valid image reference"),
    ("app_", "not a valid image reference"),
    ("-app", "not a valid image reference"),
    ("x" * 256, "limit is 255"),
    ("x" * 238, "limit is 255"),
    ("[::1]:5000/app", "no IPv6 address"),
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

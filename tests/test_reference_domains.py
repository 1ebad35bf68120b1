"""Dockyard's reading of image references against the engine's own, row by row.

The hole this closes: Dockyard took `Evil/x` for a Docker Hub name (and sent a
stored Docker Hub login with it), while Docker reads an upper-case first
component as a registry host. The engine is the oracle here, asked through the
Engine API directly (the SDK's low-level tag passes the text through untouched),
not through the docker CLI, which parses references itself with its own,
possibly newer, rules.
"""

import uuid

import pytest

from images.engine import EngineError
from images.refs import InvalidReference, familiar_name, parse_reference, registry_of, split_repo_tag

DIGEST = "sha256:" + "b" * 64

# `{n}` is a name made unique for the run, so no row can move anyone else's tag.
ROWS = [
    "{n}", "{n}:v1", "{n}:latest", "{n}:_x", "{n}:" + "x" * 128, "{n}:" + "x" * 129, "{n}:-x", "{n}:.x",
    "{n}:a:b", "{n}@" + DIGEST, "{n}:1@" + DIGEST, "{n}@sha256:abc", " {n}", "{n} ", "{n}//x", "{n}_",
    "-{n}", "{n}__x", "{n}--x", "{n}.x", "{n}..x", "{n}X",
    "library/{n}", "docker.io/{n}", "docker.io/library/{n}:1.0", "index.docker.io/{n}",
    "index.docker.io/library/{n}", "docker.io/library/team/{n}", "team/{n}", "docker.io/team/{n}:x",
    "docker.io/Library/{n}", "team/{n}X", "Docker.io/{n}", "INDEX.docker.io/{n}",
    "Evil/{n}", "EVIL/{n}", "eVil/team/{n}", "evil/{n}", "Evil.com/{n}", "evil.com/{n}", "Evil:5000/{n}",
    "evil:5000/{n}", "evil.com:5000/team/{n}:tag", "evil.com:x/{n}", "-evil.com/{n}", "evil-.com/{n}",
    "a_b.c/{n}", "localhost/{n}", "docker.io/localhost/{n}", "localhost:5000/{n}", "LocalHost/{n}", "LOCALHOST/{n}",
    "127.0.0.1/{n}", "127.0.0.1:5000/{n}:1", "[::1]:5000/{n}", "[::1]/{n}",
    "{hex}", "{hex}:x", "{long237}", "{long238}", "team/{long235}", "team/{long236}",
    "localhost/{long245}", "localhost/{long246}",
]


# Where Dockyard reads references as distribution/reference v0.6 does (newer
# engines and registries): an IPv6 host, and the 255-character limit on the
# repository path alone. Engine 20.10 refuses these itself.
NEWER_THAN_THIS_ENGINE = {"[::1]:5000/{n}", "[::1]/{n}", "{long238}", "localhost/{long246}"}


def _fill(template, token):
    hexes = (uuid.uuid4().hex * 2)[:64]
    pad = {f"long{size}": token + "x" * (size - len(token)) for size in (235, 236, 237, 238, 245, 246)}
    return template.format(n=token, hex=hexes, **pad)


def dockyard_reading(reference):
    """(valid, registry host, familiar name) as Dockyard reads the reference."""
    try:
        parse_reference(reference)
    except InvalidReference:
        return False, None, None
    return True, registry_of(reference), familiar_name(reference) if "@" not in reference else None


def engine_reading(engine, base, base_tags, reference):
    """(valid, registry host, familiar name) as the engine reads the reference.

    Valid: the engine tags it, or refuses it only for carrying a digest.
    Familiar name: the engine's own RepoTags entry for the new tag. Registry
    host: the engine holds a repository name to 255 characters once normalised
    (`x` is `docker.io/library/x`, `index.docker.io/x` too), so when it takes the
    name padded to 255 characters and not to 256, it changed nothing, and the
    host is the name's first component; otherwise it moved the name to Docker
    Hub. (The familiar form cannot tell: the engine shows `docker.io/localhost/x`
    as `localhost/x`, and finds either under the other's name.)"""
    without_digest = reference.partition("@")[0]
    try:
        engine.tag_image(base, reference, None)
    except EngineError as exc:
        if "refusing to create a tag with a digest reference" not in str(exc):
            return False, None, None
        valid, host, _ = engine_reading(engine, base, base_tags, without_digest)
        return valid, host, None
    (familiar,) = set(engine.inspect_image(base)["RepoTags"]) - base_tags
    engine.remove_image(familiar)
    name = split_repo_tag(without_digest)[0]
    unchanged = _takes(engine, base, name + "x" * (255 - len(name))) and not _takes(
        engine, base, name + "x" * (256 - len(name)))
    return True, name.split("/", 1)[0] if unchanged else "docker.io", familiar


def _takes(engine, base, name):
    try:
        engine.tag_image(base, name, None)
    except EngineError as exc:
        assert "must not be more than 255 characters" in str(exc), exc
        return False
    engine.remove_image(name)
    return True


def test_it_reads_every_reference_as_the_engine_does(engine, base_image):
    from tests import dockerlib

    token = f"dyrefs{uuid.uuid4().hex[:8]}"
    # An image of this test's own, so that tags other tests put on the base do not count.
    holder = f"{dockerlib.PREFIX}/{token}:holder"
    image = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL {token}=1\n", tags=[holder])
    rows = [(_fill(template, token), template in NEWER_THAN_THIS_ENGINE) for template in ROWS]
    assert len(rows) >= 40
    disagreements = []
    try:
        for reference, newer in rows:
            ours = dockyard_reading(reference)
            theirs = engine_reading(engine, image, {holder}, reference)
            if newer and ours[0] and not theirs[0]:
                continue
            if ours != theirs:
                disagreements.append(f"{reference[:70]!r}: Dockyard {ours}, engine {theirs}")
    finally:
        left = set(engine.inspect_image(image)["RepoTags"]) - {holder}
        for tag in left:
            engine.remove_image(tag)
        engine.remove_image(holder)
    assert not left, f"tags left behind: {left}"
    assert not disagreements, "\n".join(disagreements)


@pytest.mark.parametrize("reference, host", [
    ("Evil/x", "Evil"), ("EVIL/team/x", "EVIL"), ("evil/x", "docker.io"), ("index.docker.io/x", "docker.io"),
    ("localhost/x", "localhost"), ("Registry.Example.com/x", "Registry.Example.com"), ("x", "docker.io"),
    ("localhost:5000", "docker.io"),
])
def test_it_finds_the_registry_host_as_docker_does(reference, host):
    assert registry_of(reference) == host


def test_it_refuses_an_upper_case_first_component_with_the_reason():
    with pytest.raises(InvalidReference, match="'Evil' has capitals"):
        parse_reference("Evil/x")


@pytest.mark.unaudited("the registry row stands in for one added on the Registries page")
@pytest.mark.usefixtures("db")
def test_it_never_gives_a_docker_hub_login_to_another_host():
    from images.models import Registry

    hub = Registry(address="docker.io", username="hub-user")
    hub.set_password("hub-password")
    hub.save()
    assert Registry.for_reference("team/app") == hub
    assert Registry.for_reference("index.docker.io/team/app") == hub
    assert Registry.for_reference("Evil/x") is None
    assert Registry.for_reference("evil.com/x") is None

"""The parent of an image Dockyard did not build, inferred from the layer chain
(images/catalog/lineage.py), checked against the layer chains the docker CLI
reports, for images loaded from an archive or pulled from a registry (which
carry no Parent of the engine's own)."""

import json
import subprocess
import uuid

import pytest
from django.urls import reverse

from images.catalog import lineage
from tests import dockerlib


def layers(reference):
    return json.loads(dockerlib.docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", reference))


def _build(name, dockerfile, files=None):
    tag = f"{dockerlib.unique(name)}:1"
    dockerlib.build(dockerfile, tags=[tag], context_files=files)
    return tag


@pytest.fixture(scope="module")
def chain(base_image):
    """a <- b <- c, a <- x (shares only a's layer with b and c), b <- y (b's
    layers, a config of its own); c and x saved, removed and loaded again."""
    made = {"a": _build("lineage-a", "FROM scratch\nCOPY a /a\n", {"a": uuid.uuid4().hex})}
    made["b"] = _build("lineage-b", f"FROM {made['a']}\nCOPY b /b\n", {"b": uuid.uuid4().hex})
    made["c"] = _build("lineage-c", f"FROM {made['b']}\nCOPY c /c\n", {"c": uuid.uuid4().hex})
    made["x"] = _build("lineage-x", f"FROM {made['a']}\nCOPY x /x\n", {"x": uuid.uuid4().hex})
    made["y"] = _build("lineage-y", f"FROM {made['b']}\nLABEL lineage=y\n")
    for name in ("c", "x"):
        archive = subprocess.run(["docker", "save", made[name]], capture_output=True, check=True).stdout
        dockerlib.docker("rmi", made[name])
        dockerlib.docker("load", input=archive)
    return made


class CountingEngine:
    """The real engine, counting the inspects made through it."""

    def __init__(self, engine):
        self.engine, self.inspects = engine, 0

    def list_images(self, **options):
        return self.engine.list_images(**options)

    def inspect_image(self, reference):
        self.inspects += 1
        return self.engine.inspect_image(reference)


def parent_of(engine, reference):
    return lineage.infer_parent(engine, engine.inspect_image(reference)).parent


def test_a_loaded_image_gets_the_longest_prefix_of_its_layers_as_its_parent(engine, chain, db):
    assert dockerlib.docker("image", "inspect", "--format", "{{.Parent}}", chain["c"]).strip() == ""
    parent = parent_of(engine, chain["c"])
    assert parent.image_id == dockerlib.image_id(chain["b"])
    assert layers(chain["b"]) == layers(chain["c"])[:2] and (parent.shared_layers, parent.layers) == (2, 3)


def test_an_image_that_shares_only_part_of_a_chain_gets_the_part_it_shares(engine, chain, db):
    assert layers(chain["x"])[:1] == layers(chain["b"])[:1] and layers(chain["x"])[1] != layers(chain["b"])[1]
    parent = parent_of(engine, chain["x"])
    assert parent.image_id == dockerlib.image_id(chain["a"])
    assert (parent.shared_layers, parent.layers) == (1, 2)


def test_of_two_images_with_the_same_layers_the_earlier_is_the_parent(engine, chain, db):
    assert layers(chain["y"]) == layers(chain["b"])
    assert parent_of(engine, chain["y"]).image_id == dockerlib.image_id(chain["b"])
    assert parent_of(engine, chain["b"]).image_id == dockerlib.image_id(chain["a"])
    assert parent_of(engine, chain["a"]) is None


def test_a_second_look_inspects_no_image_again(engine, chain, db):
    counting = CountingEngine(engine)
    image = engine.inspect_image(chain["c"])
    lineage.infer_parent(counting, image)
    counting.inspects = 0
    found = lineage.infer_parent(counting, image)
    assert counting.inspects == 0 and found.unchecked == 0
    assert found.parent.image_id == dockerlib.image_id(chain["b"])


def test_the_image_page_links_to_the_inferred_parent(builder_client, chain):
    image_hex = dockerlib.image_id(chain["x"]).split(":", 1)[1]
    page = builder_client.get(reverse("images-detail", args=[image_hex])).content.decode()
    assert f'href="{reverse("images-parent", args=[image_hex])}" id="image-parent-link"' in page
    page = builder_client.get(reverse("images-parent", args=[image_hex])).content.decode()
    shown = " ".join(page.split('id="image-parent"', 1)[1].split("</section>", 1)[0].split())
    a_hex = dockerlib.image_id(chain["a"]).split(":", 1)[1]
    assert "Parent, <strong>inferred</strong>" in shown
    assert f'href="{reverse("images-detail", args=[a_hex])}" class="inferred-parent">{chain["a"]}</a>' in shown
    assert "its 1 layer are the first of this image's 2" in shown


def test_the_api_gives_the_inferred_parent(builder, chain):
    from tests.apiclient import bearer

    image_hex = dockerlib.image_id(chain["x"]).split(":", 1)[1]
    answer = bearer(builder).get(f"/api/images/{image_hex}/parent").json()
    assert answer["parent"]["image_id"] == dockerlib.image_id(chain["a"])
    assert (answer["parent"]["shared_layers"], answer["parent"]["layers"]) == (1, 2)


@pytest.fixture(scope="module")
def pulled(chain, open_registry):
    """p (on a: shares only a's layer with b and c) and q (on c, which was loaded), each built, pushed to the
    tests' registry, removed and pulled again: the engine keeps no parent for a pulled image."""
    made = {}
    for name, below in (("p", chain["a"]), ("q", chain["c"])):
        reference = f"{open_registry.address}/{dockerlib.unique('lineage-' + name)}:1"
        dockerlib.build(f"FROM {below}\nCOPY {name} /{name}\n", tags=[reference], context_files={name: uuid.uuid4().hex})
        dockerlib.docker("push", reference)
        dockerlib.docker("rmi", reference)
        dockerlib.docker("pull", reference)
        made[name] = reference
    return made


def test_a_pulled_image_gets_the_longest_prefix_of_its_layers_as_its_parent(engine, chain, pulled, db):
    for name in ("p", "q"):
        assert dockerlib.docker("image", "inspect", "--format", "{{.Parent}}", pulled[name]).strip() == ""
    # q stands on the whole chain a, b, c: its parent is c, all three of whose layers are its first.
    parent = parent_of(engine, pulled["q"])
    assert layers(chain["c"]) == layers(pulled["q"])[:3]
    assert parent.image_id == dockerlib.image_id(chain["c"]) and (parent.shared_layers, parent.layers) == (3, 4)
    # p shares only the chain's first layer (a's) with b, c and q: its parent is a, not one of them.
    assert layers(pulled["p"])[:1] == layers(chain["b"])[:1] and layers(pulled["p"])[1] != layers(chain["b"])[1]
    parent = parent_of(engine, pulled["p"])
    assert parent.image_id == dockerlib.image_id(chain["a"]) and (parent.shared_layers, parent.layers) == (1, 2)

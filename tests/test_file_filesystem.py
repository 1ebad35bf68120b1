"""Layers stacked as the engine stacks them, the marks each layer's view gets,
and dive's wasted space, on layers written out by hand."""

import pytest

from images.files.entries import EntryWriter
from images.files.filesystem import ImageFiles, ROOT
from images.files.headers import Member

TYPES = {"f": b"0", "d": b"5", "l": b"2", "h": b"1"}


def layer(*items):
    """("path", size) for a file, ("path/",) for a directory, ("path", "l", target) for a link."""
    writer = EntryWriter(10_000, 4096)
    for item in items:
        name = item[0]
        if name.endswith("/"):
            kind, size, link = "d", 0, ""
        elif len(item) == 3:
            kind, size, link = item[1], 0, item[2]
        else:
            kind, size, link = "f", item[1] if len(item) > 1 else 0, ""
        writer.add(Member(name.encode(), TYPES[kind], size, 0o755 if kind == "d" else 0o644, 0, 0, 1, link.encode(), 0))
    return writer.entries()


def listing(files, number, path="", **options):
    pid = files.lookup(path.encode()) if path else ROOT
    return {node.name.decode(): (node.mark, node.size) for node in files.listing(number, pid, **options)}


def test_a_file_added_then_overwritten_then_removed():
    files = ImageFiles([layer(("app/",), ("app/a", 10)), layer(("app/",), ("app/a", 30)), layer(("app/",), ("app/.wh.a",))])
    assert listing(files, 0, "app") == {"a": ("added", 10)}
    assert listing(files, 1, "app") == {"a": ("modified", 30)}
    assert listing(files, 2, "app") == {"a": ("removed", 30)}
    assert [files.dir_size(files.lookup(b"app"), n) for n in range(3)] == [10, 30, 0]
    assert b"app/a" not in files.final_entries()


def test_a_directory_removed_takes_its_subtree_and_can_be_opened_to_see_what_went():
    files = ImageFiles([layer(("d/",), ("d/sub/",), ("d/sub/x", 5), ("d/y", 7), ("keep", 1)), layer((".wh.d",))])
    assert listing(files, 1) == {"d": ("removed", 12), "keep": ("unchanged", 1)}
    assert listing(files, 1, "d") == {"sub": ("removed", 5), "y": ("removed", 7)}
    assert listing(files, 1, "d/sub") == {"x": ("removed", 5)}
    assert set(files.final_entries()) == {b"keep"}
    assert files.total_size(1) == 1


def test_an_opaque_directory_hides_what_lower_layers_put_in_it():
    lower = layer(("cache/",), ("cache/old", 100), ("cache/same", 4), ("cache/deep/",), ("cache/deep/z", 9))
    upper = layer(("cache/",), ("cache/.wh..wh..opq",), ("cache/same", 4), ("cache/new", 2))
    files = ImageFiles([lower, upper])
    assert listing(files, 1, "cache") == {"old": ("removed", 100), "same": ("modified", 4), "new": ("added", 2),
                                          "deep": ("removed", 9)}
    assert set(files.final_entries()) == {b"cache", b"cache/same", b"cache/new"}
    assert files.dir_size(files.lookup(b"cache"), 1) == 6


def test_a_file_over_a_directory_and_a_directory_over_a_file():
    files = ImageFiles([layer(("x/",), ("x/in", 3), ("y", 8)), layer(("x", 1), ("y/",), ("y/in", 2))])
    final = files.final_entries()
    assert set(final) == {b"x", b"y", b"y/in"} and final[b"x"][0] == b"f"
    assert listing(files, 1) == {"x": ("modified", 1), "y": ("modified", 2)}
    assert files.total_size(1) == 3


def test_entries_below_an_unlisted_directory_imply_it():
    files = ImageFiles([layer(("a/b/c", 4))])
    assert listing(files, 0) == {"a": ("added", 4)}
    assert listing(files, 0, "a/b") == {"c": ("added", 4)}


def test_links_keep_their_targets_and_weigh_nothing():
    files = ImageFiles([layer(("bin/",), ("bin/sh", 50), ("bin/ash", "l", "sh"), ("bin/hard", "h", "bin/sh"))])
    nodes = {node.name: node for node in files.listing(0, files.lookup(b"bin"))}
    assert nodes[b"ash"].link == b"sh" and nodes[b"hard"].link == b"bin/sh"
    assert nodes[b"ash"].size == 0 and files.total_size(0) == 50


def test_only_what_the_layer_changed():
    files = ImageFiles([layer(("etc/",), ("etc/a", 1), ("usr/",), ("usr/b", 2)), layer(("etc/",), ("etc/c", 3))])
    assert listing(files, 1, changed_only=True) == {"etc": ("unchanged", 4)}
    assert [node.changes_below for node in files.listing(1, ROOT, changed_only=True)] == [True]
    assert listing(files, 1, "etc", changed_only=True) == {"c": ("added", 3)}
    assert listing(files, 1, "usr", changed_only=True) == {}


def test_a_directory_listed_again_for_a_new_mtime_is_not_modified():
    files = ImageFiles([layer(("etc/",), ("etc/a", 1)), layer(("etc/",))])
    assert listing(files, 1) == {"etc": ("unchanged", 1)}
    assert files.listing(1, ROOT, changed_only=True) == []


def report(*layers):
    files = ImageFiles(list(layers), weigh_waste=True)
    return files.efficiency.report(files.layer_sizes, files.paths)


def test_dive_efficiency_case():
    # dive/filetree/efficiency_test.go TestEfficency, with the directory entries a
    # real layer tar holds: the whiteout of /etc/nginx then weighs what it removed
    # (5000 + 3000), as efficiency.go does for a directory.
    got = report(layer(("etc/",), ("etc/nginx/",), ("etc/nginx/nginx.conf", 2000), ("etc/nginx/public", 3000)),
                 layer(("etc/",), ("etc/nginx/",), ("etc/nginx/nginx.conf", 5000), ("etc/athing", 10000)),
                 layer(("etc/",), ("etc/.wh.nginx",)))
    # minimum: conf 2000 + public 3000 + athing 10000 + nginx 8000; cumulative: 7000 + 3000 + 10000 + 8000
    assert got["efficiency"] == pytest.approx(23000 / 28000)
    assert got["wasted_bytes"] == 7000 and got["inefficient_paths"] == 1
    assert got["wasters"] == [(b"etc/nginx/nginx.conf", 7000, [0, 1])]
    assert got["user_size"] == 15000 and got["wasted_share"] == pytest.approx(7000 / 15000)


def test_a_removed_file_wastes_its_size():
    got = report(layer(("big", 1000), ("small", 10)), layer((".wh.big",)))
    assert got["wasted_bytes"] == 1000 and got["efficiency"] == pytest.approx(10 / 1010)


def test_an_opaque_directory_wastes_what_it_hides():
    got = report(layer(("d/",), ("d/old", 100), ("d/sub/",), ("d/sub/x", 50)),
                 layer(("d/",), ("d/.wh..wh..opq",), ("d/new", 1)))
    # d/old: 100 then hidden (0); d/sub: a directory hidden, weighing its 50 once, as a
    # removed directory does in dive.
    assert got["wasted_bytes"] == 100
    assert got["wasters"] == [(b"d/old", 100, [0, 1])]
    assert got["efficiency"] == pytest.approx((0 + 50 + 50 + 1) / (100 + 50 + 50 + 1))


def test_an_image_of_empty_files_is_fully_efficient():
    assert report(layer(("nothing",)))["efficiency"] == 1.0


# Carrying on from a checkpoint ----------------------------------------------------

STACK = [
    layer(("etc/",), ("etc/a", 10), ("etc/b", 20), ("usr/bin/tool", 300), ("usr/lib/",), ("usr/lib/x", 40),
          ("link", "l", "etc/a"), ("empty",)),
    layer(("etc/",), ("etc/a", 11), ("etc/.wh.b",), ("usr/lib/",), ("usr/lib/.wh..wh..opq",), ("usr/lib/y", 5),
          ("hard", "h", "usr/bin/tool")),
    layer(("usr/",), ("usr/bin", 7), ("etc/",), ("etc/b/",), ("etc/b/inner", 2), ("deep/er/est", 9)),
    layer((".wh.etc",), ("etc", 1), ("deep/er/",), ("deep/er/.wh.est",), ("empty", 3)),
    layer(("usr/",), ("usr/lib/",), ("usr/lib/.wh..wh..opq",), ("new", 1000)),
]


def summary_of(files):
    last = len(files.layers) - 1
    return (files.efficiency.report(files.layer_sizes, files.paths), files.file_count(last),
            files.total_size(last), files.final_entries(), files.layer_sizes)


@pytest.mark.parametrize("below", range(1, len(STACK)))
def test_a_stack_carried_on_from_a_checkpoint_sums_up_as_the_whole_stack(below):
    whole = ImageFiles(STACK, weigh_waste=True)
    checkpoint = ImageFiles(STACK[:below], weigh_waste=True).checkpoint()
    resumed = ImageFiles(STACK, weigh_waste=True, checkpoint=checkpoint)
    assert resumed.layers_from_checkpoint == below
    assert summary_of(resumed) == summary_of(whole)
    assert summary_of(whole)[0]["wasted_bytes"] > 0  # the stack wastes something to carry on


def test_a_checkpoint_of_a_resumed_stack_carries_on_as_well():
    resumed = ImageFiles(STACK[:3], weigh_waste=True, checkpoint=ImageFiles(STACK[:1], weigh_waste=True).checkpoint())
    again = ImageFiles(STACK, weigh_waste=True, checkpoint=resumed.checkpoint())
    assert summary_of(again) == summary_of(ImageFiles(STACK, weigh_waste=True))


def test_a_checkpoint_of_other_layers_is_refused():
    checkpoint = ImageFiles(STACK[:2], weigh_waste=True).checkpoint()
    with pytest.raises(ValueError, match="other layers"):
        ImageFiles([STACK[0], STACK[2], STACK[3]], weigh_waste=True, checkpoint=checkpoint)
    with pytest.raises(ValueError, match="other layers"):
        ImageFiles(STACK[:1], weigh_waste=True, checkpoint=checkpoint)  # more layers than the image has
    with pytest.raises(ValueError):
        ImageFiles(STACK, weigh_waste=True, checkpoint=STACK[0].encode())  # a layer index is no checkpoint
    with pytest.raises(ValueError):
        ImageFiles(STACK, weigh_waste=True, checkpoint=checkpoint[:len(checkpoint) // 2])

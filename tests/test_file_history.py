"""Which history entries made an image's layers: the image config's
`empty_layer` marks decide, not the instruction or its size."""

from images.files.history import layer_history

A, B, C = ("sha256:" + digit * 64 for digit in "abc")


def entry(created_by, size=0, created=1_700_000_000):
    return {"CreatedBy": created_by, "Size": size, "Created": created, "Comment": ""}


def config(*steps, diff_ids):
    return {"history": [{"created_by": created_by, **({"empty_layer": True} if empty else {})}
                        for created_by, empty in steps], "rootfs": {"diff_ids": diff_ids}}


def test_a_real_layer_of_0_bytes_made_a_layer_and_a_run_that_changed_nothing_none():
    # Newest first, as the engine lists them: a classic RUN that changed nothing
    # made no layer, a WORKDIR that made its directory made one of 0 bytes.
    history = [entry("/bin/sh -c true"), entry("/bin/sh -c #(nop) WORKDIR /app"), entry("", 2_000_000)]
    image = config(("", False), ("/bin/sh -c #(nop) WORKDIR /app", False), ("/bin/sh -c true", True),
                   diff_ids=[A, B])
    made = layer_history(history, image, 2)
    assert [(layer["created_by"], layer["size"]) for layer in made] == [("", 2_000_000),
                                                                        ("/bin/sh -c #(nop) WORKDIR /app", 0)]


def test_buildkit_metadata_makes_no_layer_and_its_workdir_does():
    history = [entry("ENV A=1"), entry("RUN /bin/sh -c true # buildkit"), entry("WORKDIR /app"), entry("", 5)]
    image = config(("", False), ("WORKDIR /app", False), ("RUN /bin/sh -c true # buildkit", False),
                   ("ENV A=1", True), diff_ids=[A, B, C])
    assert [layer["created_by"] for layer in layer_history(history, image, 3)] == [
        "", "WORKDIR /app", "RUN /bin/sh -c true # buildkit"]


def test_without_a_config_that_fits_it_does_not_say():
    history = [entry("/bin/sh -c echo hi > /x", 3), entry("", 2_000_000)]
    assert layer_history(history, None, 2) is None
    assert layer_history(history, config(("", False), ("/bin/sh -c echo hi > /x", False), diff_ids=[A, B]), 3) is None
    assert layer_history(history, config(("", False), diff_ids=[A]), 1) is None  # a history of another length

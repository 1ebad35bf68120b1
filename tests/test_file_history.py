"""Which history entries made an image's layers, when only the engine's history
call (which drops `empty_layer`) says."""

from images.files.history import layer_history, makes_layer


def entry(created_by, size=0, created=1_700_000_000):
    return {"CreatedBy": created_by, "Size": size, "Created": created, "Comment": ""}


def test_classic_builder_metadata_makes_no_layer_but_copy_and_run_do():
    assert not makes_layer(entry("/bin/sh -c #(nop)  ENV A=1"))
    assert not makes_layer(entry("/bin/sh -c #(nop)  CMD [\"sh\"]"))
    assert makes_layer(entry("/bin/sh -c #(nop) COPY file:abc in /app "))
    assert makes_layer(entry("/bin/sh -c #(nop) ADD dir:abc in / "))
    assert makes_layer(entry("/bin/sh -c true"))  # a RUN that changed nothing still makes one
    assert makes_layer(entry("|1 A=1 /bin/sh -c echo $A"))


def test_buildkit_records_and_imports():
    assert makes_layer(entry("RUN /bin/sh -c make # buildkit"))
    assert makes_layer(entry("COPY . /src # buildkit"))
    assert not makes_layer(entry("ENV A=1", 0))
    assert not makes_layer(entry("WORKDIR /app", 0)) and makes_layer(entry("WORKDIR /app # buildkit", 10))
    assert makes_layer(entry(""))  # `docker import`: one entry, the layer


def test_the_count_must_come_out_right():
    history = [entry("/bin/sh -c #(nop)  CMD [\"sh\"]"), entry("/bin/sh -c echo hi > /x", 3),
               entry("", 2_000_000)]  # newest first, as the engine lists them
    assert [layer["created_by"] for layer in layer_history(history, 2)] == ["", "/bin/sh -c echo hi > /x"]
    assert layer_history(history, 3) is None

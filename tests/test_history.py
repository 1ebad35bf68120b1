from images.catalog.history import clean_created_by, layers_from_history


def test_it_strips_the_nop_prefix_of_metadata_steps():
    instruction = clean_created_by('/bin/sh -c #(nop)  CMD ["sh"]')
    assert (instruction.keyword, instruction.arguments) == ("CMD", '["sh"]')


def test_it_reads_shell_commands_as_run():
    assert str(clean_created_by("/bin/sh -c apk add --no-cache curl")) == "RUN apk add --no-cache curl"


def test_it_separates_build_args_from_run():
    instruction = clean_created_by("|2 A=1 B=two /bin/sh -c echo $A $B")
    assert str(instruction) == "RUN echo $A $B"
    assert instruction.build_args == "A=1 B=two"


def test_it_reads_buildkit_history():
    assert str(clean_created_by("RUN /bin/sh -c make install # buildkit")) == "RUN make install"
    assert str(clean_created_by("COPY app /app # buildkit")) == "COPY app /app"
    assert str(clean_created_by("ENV A=1")) == "ENV A=1"


def test_it_reads_imported_layers_as_no_instruction():
    assert str(clean_created_by("")) == ""
    assert str(clean_created_by(None)) == ""


def test_it_sizes_layers_against_the_largest():
    layers = layers_from_history([
        {"Id": "sha256:1", "Created": 1700000000, "CreatedBy": "/bin/sh -c #(nop)  USER x", "Size": 0},
        {"Id": "<missing>", "Created": 1700000000, "CreatedBy": "/bin/sh -c true", "Size": 50},
        {"Id": "sha256:3", "Created": 0, "CreatedBy": "", "Size": 200, "Comment": "Imported from -"},
    ])
    assert [layer.size_percent for layer in layers] == [0.0, 25.0, 100.0]
    assert layers[2].created is None and layers[2].comment == "Imported from -"


def test_it_separates_build_args_from_a_buildkit_run():
    instruction = clean_created_by('RUN |1 VERSION=1.2.3 /bin/sh -c echo "$VERSION" > version.txt # buildkit')
    assert (instruction.keyword, instruction.arguments, instruction.build_args) == (
        "RUN", 'echo "$VERSION" > version.txt', "VERSION=1.2.3")


def test_it_separates_build_args_from_an_exec_form_run():
    instruction = clean_created_by("RUN |2 A=1 B=2 mkdir -p /app/empty # buildkit")
    assert (instruction.keyword, instruction.arguments, instruction.build_args) == ("RUN", "mkdir -p /app/empty", "A=1 B=2")
    instruction = clean_created_by("|1 A=1 mkdir -p /x")
    assert (instruction.keyword, instruction.arguments, instruction.build_args) == ("RUN", "mkdir -p /x", "A=1")


def test_it_marks_empty_what_the_config_marks_empty():
    # Newest first, as the engine's history call gives them; the config oldest first.
    engine_history = [
        {"Id": "<missing>", "Created": 1700000002, "CreatedBy": "ENV A=1", "Size": 0},
        {"Id": "<missing>", "Created": 1700000001, "CreatedBy": "WORKDIR /app", "Size": 0},
        {"Id": "sha256:1", "Created": 1700000000, "CreatedBy": "", "Size": 200},
    ]
    config = {"history": [{"comment": "Imported from -"}, {"created_by": "WORKDIR /app"},
                          {"created_by": "ENV A=1", "empty_layer": True}],
              "rootfs": {"diff_ids": ["sha256:" + "a" * 64, "sha256:" + "b" * 64]}}
    layers = layers_from_history(engine_history, config)
    assert [layer.empty for layer in layers] == [True, False, False]
    assert [layer.diff_id for layer in layers] == ["", "sha256:" + "b" * 64, "sha256:" + "a" * 64]


def test_it_marks_nothing_empty_without_a_config_that_fits():
    engine_history = [{"Id": "<missing>", "Created": 1700000001, "CreatedBy": "ENV A=1", "Size": 0},
                      {"Id": "sha256:1", "Created": 1700000000, "CreatedBy": "", "Size": 200}]
    config = {"history": [{"comment": "Imported from -"}], "rootfs": {"diff_ids": ["sha256:" + "a" * 64]}}
    for unknown in (None, config):
        assert [layer.empty for layer in layers_from_history(engine_history, unknown)] == [None, None]

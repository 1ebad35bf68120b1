"""The pure parts of what a removal or prune frees: which history entries'
sizes are the layers', and which images a label filter takes, as the engine
decides. (The whole, against the engine's SpaceReclaimed: test_prune_preview.)"""

from images.catalog.layers import layer_sizes
from images.lifecycle.pruning import _labels_match

# `docker history` of FROM base / RUN (300 kB) / LABEL / RUN that wrote nothing (BuildKit: a layer) / COPY, newest first.
HISTORY = [
    {"CreatedBy": "COPY a /a # buildkit", "Size": 1000},
    {"CreatedBy": "RUN /bin/sh -c true # buildkit", "Size": 0},
    {"CreatedBy": "LABEL x=1", "Size": 0},
    {"CreatedBy": "RUN /bin/sh -c dd if=/dev/zero of=/f bs=1024 count=300 # buildkit", "Size": 307200},
    {"CreatedBy": "", "Size": 1984132},
]
CONFIG = {
    "rootfs": {"diff_ids": [f"sha256:{n:064x}" for n in range(4)]},
    "history": [{"created_by": ""}, {"created_by": "RUN dd"}, {"created_by": "LABEL x=1", "empty_layer": True},
                {"created_by": "RUN true"}, {"created_by": "COPY a /a"}],
}


def test_it_takes_each_layers_size_from_the_entries_the_config_says_made_layers():
    assert layer_sizes(HISTORY, CONFIG, 4) == ([1984132, 307200, 0, 1000], True)


def test_without_the_config_it_takes_the_entries_with_bytes_and_the_likeliest_others():
    assert layer_sizes(HISTORY, None, 4) == ([1984132, 307200, 0, 1000], False)


def test_a_label_filter_matches_as_the_engines():
    labels = {"team": "web", "tier": ""}
    assert _labels_match(labels, "") and _labels_match(labels, "team") and _labels_match(labels, "team=web")
    assert _labels_match(labels, "tier=") and not _labels_match(labels, "team=db")
    assert not _labels_match(labels, "owner") and not _labels_match(None, "team")

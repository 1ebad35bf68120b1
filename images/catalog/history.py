"""Layer histories read like the Dockerfile that made them.

The engine records each layer's command as the builder ran it: metadata steps
as `/bin/sh -c #(nop)  ENV A=1`, RUN steps as `/bin/sh -c <command>` (prefixed
with `|N k=v ...` when build args were in scope); BuildKit writes the
instruction itself (`RUN |1 A=1 /bin/sh -c <command> # buildkit`, `ENV A=1`).
`clean_created_by` turns each back into the instruction, build args apart.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timezone

_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*", re.S)
_SHELL = re.compile(r"^/bin/sh -c\s+", re.S)
_BUILD_ARGS = re.compile(r"^\|(\d+)\s+")
_BUILDKIT_SUFFIX = re.compile(r"\s*# buildkit$")
_INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}


@dataclass
class Instruction:
    keyword: str  # "RUN", "ENV", ... or "" when the layer records no command
    arguments: str
    build_args: str = ""  # "A=1 B=2" for a RUN that had build args in scope

    def __str__(self):
        return f"{self.keyword} {self.arguments}".strip()


def clean_created_by(created_by):
    text = _BUILDKIT_SUFFIX.sub("", (created_by or "").strip())
    if not text:
        return Instruction("", "")
    nop = _NOP.match(text)
    if nop:
        return _split_keyword(text[nop.end():].strip())
    if text.startswith("RUN "):
        # BuildKit writes the instruction itself: "RUN [|N k=v ...] /bin/sh -c ...".
        return _run(text[len("RUN "):].lstrip())
    instruction = _split_keyword(text)
    if instruction.keyword:
        return instruction
    # The classic builder's RUN: its shell form, or an exec form's argv.
    return _run(text)


def _run(text):
    build_args, command = _split_build_args(text)
    return Instruction("RUN", _SHELL.sub("", command, count=1).strip(), build_args)


def _split_build_args(text):
    """'|2 A=1 B=2 /bin/sh -c make' -> ('A=1 B=2', '/bin/sh -c make'). A value
    may hold spaces, so the shell's prefix ends the args where there is one;
    an exec-form RUN's argv starts after the N-th word."""
    match = _BUILD_ARGS.match(text)
    if not match:
        return "", text
    rest = text[match.end():]
    shell_at = rest.find("/bin/sh -c ")
    if shell_at != -1:
        return rest[:shell_at].strip(), rest[shell_at:]
    count = int(match[1])
    words = rest.split(" ", count)
    return " ".join(words[:count]), " ".join(words[count:])


def _split_keyword(text):
    keyword, _, arguments = text.partition(" ")
    if keyword in _INSTRUCTIONS:
        return Instruction(keyword, arguments.strip())
    return Instruction("", text)


@dataclass
class Layer:
    id: str  # "<missing>" for layers built elsewhere
    created: datetime | None
    instruction: Instruction
    created_by: str
    size: int
    comment: str
    tags: list
    empty: bool | None = None  # the config's `empty_layer`; None when the config is not known
    diff_id: str = ""  # the layer the step made, from the config's rootfs
    size_percent: float = 0.0


def layers_from_history(history, config=None):
    """The engine's history entries (newest first, as `docker history` lists them)
    as `Layer`s, each with its size relative to the largest layer. The image
    `config` says which entries made no layer (the engine's history call drops
    the mark, and a real layer may hold 0 bytes): each other entry made the
    next layer of its rootfs."""
    marks = _layer_marks(config, len(history))
    layers = [
        Layer(
            id=entry.get("Id") or "<missing>",
            created=datetime.fromtimestamp(entry["Created"], tz=timezone.utc) if entry.get("Created") else None,
            instruction=clean_created_by(entry.get("CreatedBy")),
            created_by=entry.get("CreatedBy") or "",
            size=max(entry.get("Size") or 0, 0),
            comment=entry.get("Comment") or "",
            tags=entry.get("Tags") or [],
            empty=empty,
            diff_id=diff_id,
        )
        for entry, (empty, diff_id) in zip(history, marks)
    ]
    largest = max((layer.size for layer in layers), default=0)
    for layer in layers:
        layer.size_percent = round(100 * layer.size / largest, 1) if largest else 0.0
    return layers


def _layer_marks(config, entry_count):
    """(empty, diff id) of each entry, newest first; unknown for all when the
    config's history does not fit the engine's or the image's layers."""
    unknown = [(None, "")] * entry_count
    if not config:
        return unknown
    entries = config.get("history") or []
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    made = [not entry.get("empty_layer") for entry in entries]
    if len(entries) != entry_count or made.count(True) != len(diff_ids):
        return unknown
    layer_ids = iter(diff_ids)
    return [(False, next(layer_ids)) if makes else (True, "") for makes in made][::-1]

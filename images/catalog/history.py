"""Layer histories read like the Dockerfile that made them.

The engine records each layer's command as the builder ran it: metadata steps
as `/bin/sh -c #(nop)  ENV A=1`, RUN steps as `/bin/sh -c <command>` (prefixed
with `|N k=v ...` when build args were in scope), BuildKit steps with a
trailing `# buildkit`. `clean_created_by` turns each back into the instruction.
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

    build_args = ""
    args_match = _BUILD_ARGS.match(text)
    if args_match:
        rest = text[args_match.end():]
        shell_at = rest.find("/bin/sh -c ")
        if shell_at != -1:
            build_args, text = rest[:shell_at].strip(), rest[shell_at:]

    nop = _NOP.match(text)
    if nop:
        return _split_keyword(text[nop.end():].strip(), build_args)
    shell = _SHELL.match(text)
    if shell:
        return Instruction("RUN", text[shell.end():].strip(), build_args)
    # BuildKit writes the instruction itself ("RUN /bin/sh -c ...", "COPY ...").
    instruction = _split_keyword(text, build_args)
    if instruction.keyword == "RUN":
        instruction.arguments = _SHELL.sub("", instruction.arguments)
    elif not instruction.keyword:
        # An exec-form RUN records only its argv.
        instruction = Instruction("RUN", text, build_args)
    return instruction


def _split_keyword(text, build_args=""):
    keyword, _, arguments = text.partition(" ")
    if keyword.upper() in _INSTRUCTIONS:
        return Instruction(keyword.upper(), arguments.strip(), build_args)
    return Instruction("", text, build_args)


@dataclass
class Layer:
    id: str  # "<missing>" for layers built elsewhere
    created: datetime | None
    instruction: Instruction
    created_by: str
    size: int
    comment: str
    tags: list
    size_percent: float = 0.0

    @property
    def empty(self):
        return self.size == 0


def layers_from_history(history):
    """The engine's history entries (newest first, as `docker history` lists them)
    as `Layer`s, each with its size relative to the largest layer."""
    layers = [
        Layer(
            id=entry.get("Id") or "<missing>",
            created=datetime.fromtimestamp(entry["Created"], tz=timezone.utc) if entry.get("Created") else None,
            instruction=clean_created_by(entry.get("CreatedBy")),
            created_by=entry.get("CreatedBy") or "",
            size=max(entry.get("Size") or 0, 0),
            comment=entry.get("Comment") or "",
            tags=entry.get("Tags") or [],
        )
        for entry in history
    ]
    largest = max((layer.size for layer in layers), default=0)
    for layer in layers:
        layer.size_percent = round(100 * layer.size / largest, 1) if largest else 0.0
    return layers

"""Reading a Dockerfile's instructions as the classic builder does: parser
directives (`# escape=`), line continuations, comment lines inside them,
instructions in any case, `--flag=value` options, and the JSON form."""

import json
import re

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_FLAGGED = {"ADD", "COPY", "FROM", "RUN", "HEALTHCHECK"}


ESCAPES = ("\\", "`")


def parse(text, escape=None):
    """[(KEYWORD, {flag: value}, [argument, ...])] for each instruction, with the
    escape character of the file's `# escape=` directive, or `escape` if given."""
    lines = text.replace("\r\n", "\n").split("\n")
    directive, start = "\\", 0
    for start, line in enumerate(lines):
        match = _DIRECTIVE.match(line.strip())
        if match is None:
            break
        if match[1].lower() == "escape" and match[2] in ESCAPES:
            directive = match[2]
    else:
        start = len(lines)
    escape = escape or directive
    instructions, pending = [], None
    for line in lines[start:]:
        stripped = line.strip()
        if stripped.startswith("#") or (pending is not None and not stripped):
            continue  # comment lines, and empty lines inside a continuation, are dropped
        if not stripped and pending is None:
            continue
        body = line.rstrip()
        continued = body.endswith(escape)
        if continued:
            body = body[: -len(escape)]
        pending = body if pending is None else pending + body
        if not continued:
            instructions.append(_instruction(pending))
            pending = None
    if pending is not None and pending.strip():
        instructions.append(_instruction(pending))
    return instructions


def _instruction(line):
    keyword, _, rest = line.strip().partition(" ")
    if "\t" in keyword:
        keyword, _, more = keyword.partition("\t")
        rest = f"{more} {rest}"
    keyword = keyword.upper()
    if keyword == "ONBUILD":
        return keyword, {}, [_instruction(rest)]
    flags, rest = {}, rest.strip()
    if keyword in _FLAGGED:
        while rest.startswith("--"):
            word, _, rest = rest.partition(" ")
            name, _, value = word[2:].partition("=")
            flags[name.lower()] = value
            rest = rest.strip()
    return keyword, flags, _arguments(rest)


def _arguments(rest):
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
    return rest.split()


def effective(instructions):
    """The instructions, with each ONBUILD's own instruction as well: it runs
    when an image is built FROM this one, perhaps on this engine."""
    for keyword, flags, arguments in instructions:
        yield keyword, flags, arguments
        if keyword == "ONBUILD" and arguments:
            yield from effective(arguments)


def variables(instructions, build_args):
    """Every value each ARG or ENV variable is given anywhere in the file or by
    the build args; an ARG without a default may also be empty."""
    values = {}
    for name, value in build_args.items():
        values.setdefault(name, set()).add(value)
    for keyword, _, arguments in effective(instructions):
        if keyword == "ARG":
            for argument in arguments:
                name, has_default, default = argument.partition("=")
                values.setdefault(name, set()).add(_unquote(default) if has_default else "")
        elif keyword == "ENV" and arguments:
            if "=" in arguments[0]:
                for argument in arguments:
                    name, _, value = argument.partition("=")
                    values.setdefault(name, set()).add(_unquote(value))
            else:  # the old form: ENV NAME value with spaces
                values.setdefault(arguments[0], set()).add(" ".join(arguments[1:]))
    return values


def shell_word(word, escape="\\"):
    """A word as the builder's word processor leaves it: quotes removed, and
    the escape character taken away before the character it escapes."""
    out, quote, index = [], None, 0
    while index < len(word):
        char = word[index]
        if char == escape and quote != "'" and index + 1 < len(word):
            out.append(word[index + 1])
            index += 2
            continue
        if char in "\"'" and quote in (None, char):
            quote = None if quote else char
        else:
            out.append(char)
        index += 1
    return "".join(out)


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def numbered(text, escape=None):
    """parse()'s instructions with the line each starts on (1-based):
    [(line, KEYWORD, {flag: value}, [argument, ...])]."""
    lines = text.replace("\r\n", "\n").split("\n")
    directive, start = "\\", 0
    for start, line in enumerate(lines):
        match = _DIRECTIVE.match(line.strip())
        if match is None:
            break
        if match[1].lower() == "escape" and match[2] in ESCAPES:
            directive = match[2]
    else:
        start = len(lines)
    escape = escape or directive
    found, pending, first = [], None, None
    for number, line in enumerate(lines[start:], start + 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # as parse() drops them, inside a continuation too
        body = line.rstrip()
        continued = body.endswith(escape)
        if continued:
            body = body[: -len(escape)]
        if pending is None:
            first, pending = number, body
        else:
            pending += body
        if not continued:
            found.append((first, *_instruction(pending)))
            pending = None
    if pending is not None and pending.strip():
        found.append((first, *_instruction(pending)))
    return found


# The instructions BuildKit's Dockerfile frontend counts as steps of a stage
# (FROM is the first); the others only change the image's config.
BUILDKIT_STEPS = {"RUN", "COPY", "ADD", "WORKDIR"}


class StageLines:
    """Which Dockerfile line a BuildKit vertex's instruction comes from: "[a 2/3]
    RUN x" is the second step (FROM the first) of the stage `FROM ... AS a`,
    "[stage-1 ...]" of the second stage when it has no name, "[2/3]" of the only
    stage; the instruction's keyword must agree, or there is no line."""

    def __init__(self, text):
        self.stages = []  # [(name or None, [(line, KEYWORD), ...])]
        for line, keyword, _, arguments in numbered(text):
            if keyword == "FROM":
                words = [word for word in arguments if not word.startswith("--")]
                name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
                self.stages.append((name, [(line, keyword)]))
            elif self.stages and keyword in BUILDKIT_STEPS:
                self.stages[-1][1].append((line, keyword))

    def __call__(self, stage, step, instruction):
        chosen = self._stage(stage)
        if chosen is None:
            return None
        index = int(step.split("/")[0]) - 1
        keyword = instruction.split(" ", 1)[0].upper()
        instructions = chosen[1]
        if 0 <= index < len(instructions) and instructions[index][1] == keyword:
            return instructions[index][0]
        return None

    def _stage(self, name):
        if not self.stages:
            return None
        if not name:
            return self.stages[0] if len(self.stages) == 1 else None
        for stage in self.stages:
            if stage[0] == name.lower():
                return stage
        if name.startswith("stage-") and name[6:].isdigit() and int(name[6:]) < len(self.stages):
            return self.stages[int(name[6:])]
        return None

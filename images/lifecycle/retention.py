"""Retention rules and their dry run: which tags and images the rules let go,
and the exact bytes their removal frees.

A rule governs the repositories whose whole name matches its glob (as Harbor's
repository filter: `*` any characters but `/`, `**` any at all, `?` one but
`/`, `[a-z]` one of a set) and keeps of each of them the newest N tags, the
tags made or moved in the last D days, and the tags whose name matches its tag
pattern; several rules governing one repository keep what any of them keeps. A
tag no rule governs is kept. An image goes when every tag it has goes; an image
one of whose tags stays only loses the others. Untagged images are left alone,
but for a dangling rule: it lets the images the engine calls dangling (as
`docker image prune` does) that were made more than D days ago go. Whatever
the rules say, these stay with all their tags (as Harbor and ECR keep what is
in use): an image a container uses (stopped ones too), a pinned one, and the
base of any image that stays (an image whose layer chain begins another's,
lineage's "parent", found from the chain ids: a chain id names a layer with all
those below it).

The bytes are the prune preview's (`freed.bytes_freed`): the layers of the
images going that no image staying holds, each once, as the engine counts
them when it frees them.

Tag patterns are regular expressions, and globs are turned into them, run by
the `regex` package with a timeout: a pattern that backtracks for ever on a
name of the lengths the engine allows is refused when it is saved, and one that still runs out of time on a real name
stops the dry run with the same message, before anything is removed.
"""

from dataclasses import dataclass, field
import re
from datetime import timedelta

import regex
from django.db.models import Max
from django.utils import timezone

from images.accounts import audit
from images.catalog import layers, usage
from images.lifecycle import freed
from images.lifecycle.tags import ActionRefused
from images.models import ImagePin, RetentionRule, TagMove
from images.refs import split_repo_tag

PATTERN_MAX = 255
# Processor time one pattern may take on one name, and on the probes it is tried on when saved.
MATCH_SECONDS = 0.25
# The probes' length: as long as a tag may be (128); a repository name may be longer, but a pattern that
# backtracks for ever does so well before this.
PROBE_LENGTH = 128


class RunawayPattern(ActionRefused):
    """A regular expression that takes too long to match a name."""


def checked_pattern(text, what):
    """`text` compiled, or ActionRefused with the reason: empty, too long, not a
    regular expression, or one that backtracks for ever (tried on names made of
    its own characters, the inputs that make a pattern like (x|xx)+y explode)."""
    text = (text or "").strip()
    if not text:
        raise ActionRefused(f"Give the {what}.")
    if len(text) > PATTERN_MAX:
        raise ActionRefused(f"The {what} is at most {PATTERN_MAX} characters.")
    try:
        pattern = regex.compile(text)
    except regex.error as exc:
        raise ActionRefused(f"The {what} is not a regular expression: {exc}.") from None
    for probe in _probes(text):
        _fullmatch(pattern, probe, what)
    return pattern


def _probes(text):
    letters = sorted({char for char in text if char.isalnum() or char in "._-/:"}) or ["a"]
    for char in letters:
        yield char * PROBE_LENGTH
        yield char * (PROBE_LENGTH - 1) + "!"
    mixed = "".join(letters)
    yield (mixed * (PROBE_LENGTH // len(mixed) + 1))[:PROBE_LENGTH - 1] + "!"


def _fullmatch(pattern, name, what, shown=None):
    """Whether `pattern` matches the whole `name`; RunawayPattern naming it as
    `shown` (a glob's own text) when it runs out of time."""
    try:
        return pattern.fullmatch(name, timeout=MATCH_SECONDS) is not None
    except TimeoutError:
        raise RunawayPattern(
            f"The {what} {shown or pattern.pattern!r} takes more than {MATCH_SECONDS:g} s to match a name of "
            f"{len(name)} characters (it backtracks without end, as (x|xx)+y does): nothing was changed. "
            "Write it without nested or overlapping repeats.") from None


GLOB_CHARACTERS = re.compile(r"[a-z0-9._/:\-*?\[\]!]+")


def checked_glob(text):
    """The repository glob `text` as a compiled regular expression, or
    ActionRefused saying what is wrong: empty, too long, a character no
    repository name has (capitals, spaces), or a set left open."""
    text = (text or "").strip()
    if not text:
        raise ActionRefused("Give the repository pattern (a glob such as team/* or */api-?).")
    if len(text) > PATTERN_MAX:
        raise ActionRefused(f"The repository pattern is at most {PATTERN_MAX} characters.")
    if not GLOB_CHARACTERS.fullmatch(text):
        bad = sorted({char for char in text if not GLOB_CHARACTERS.fullmatch(char)})
        raise ActionRefused(
            f"The repository pattern {text!r} is not a glob of repository names: {' '.join(map(repr, bad))} "
            "cannot be in one. Use lowercase letters, digits, . _ - / : and the wildcards * ** ? [a-z].")
    pattern, at = [], 0
    while at < len(text):
        char = text[at]
        if text.startswith("**", at):
            pattern.append(".*")
            at += 2
            continue
        if char == "*":
            pattern.append("[^/]*")
        elif char == "?":
            pattern.append("[^/]")
        elif char == "[":
            end = text.find("]", at + 2 if text.startswith(("[!", "[]"), at) else at + 1)
            if end < 0:
                raise ActionRefused(f"The repository pattern {text!r} opens a set with [ that no ] closes.")
            members = text[at + 1:end]
            negated = members.startswith("!")
            members = members[1:] if negated else members
            if not members:
                raise ActionRefused(f"The repository pattern {text!r} has an empty set [].")
            pattern.append(("[^/" if negated else "[") + "".join(m if m == "-" else re.escape(m) for m in members) + "]")
            at = end + 1
            continue
        elif char in "]!":
            raise ActionRefused(f"The repository pattern {text!r} has {char} outside a set [...].")
        else:
            pattern.append(re.escape(char))
        at += 1
    try:
        compiled = regex.compile("".join(pattern))
    except regex.error as exc:  # a set such as [z-a]
        raise ActionRefused(f"The repository pattern {text!r} has a set that is not one: {exc}.") from None
    for probe in _probes(text):
        _fullmatch(compiled, probe, "repository pattern", repr(text))
    return compiled


def checked_rule(repository_pattern, keep_last=None, keep_days=None, keep_pattern="", kind=RetentionRule.Kind.TAGS):
    """A rule's fields, checked: (repository_pattern, keep_last, keep_days, keep_pattern)."""
    for name, value in (("newest tags to keep", keep_last), ("days to keep", keep_days)):
        if value is not None and (type(value) is not int or not 0 <= value <= 100_000):
            raise ActionRefused(f"The {name} is a whole number from 0 to 100000.")
    if kind == RetentionRule.Kind.DANGLING:
        if keep_days is None:
            raise ActionRefused("Say after how many days (D) a dangling image may go.")
        if (repository_pattern or "").strip() or keep_last is not None or (keep_pattern or "").strip():
            raise ActionRefused("A dangling rule has only its days: dangling images have no repository or tag.")
        return "", None, keep_days, ""
    if kind != RetentionRule.Kind.TAGS:
        raise ActionRefused(f"A rule's kind is {' or '.join(RetentionRule.Kind.values)}.")
    repository_pattern = (repository_pattern or "").strip()
    checked_glob(repository_pattern)
    keep_pattern = (keep_pattern or "").strip()
    if keep_pattern:
        checked_pattern(keep_pattern, "tag pattern")
    if keep_last is None and keep_days is None and not keep_pattern:
        raise ActionRefused("Say what the rule keeps: the newest N tags, tags from the last D days, or tags "
                            "matching a pattern (keep the newest 0 to let every tag go).")
    return repository_pattern, keep_last, keep_days, keep_pattern


def add_rule(user, engine_name, repository_pattern, keep_last=None, keep_days=None, keep_pattern="",
             kind=RetentionRule.Kind.TAGS):
    """A new rule on `engine_name`, checked (ActionRefused says what is wrong) and audited."""
    repository_pattern, keep_last, keep_days, keep_pattern = checked_rule(
        repository_pattern, keep_last, keep_days, keep_pattern, kind)
    rule = RetentionRule(engine=engine_name, kind=kind, repository_pattern=repository_pattern, keep_last=keep_last,
                         keep_days=keep_days, keep_pattern=keep_pattern, created_by=user)
    with audit.recorded(user, "retention-rule", rule.governs, detail=f"keeps {rule.keeps}"):
        rule.save()
    return rule


def delete_rule(user, rule):
    with audit.recorded(user, "retention-rule-delete", rule.governs, detail=f"rule {rule.pk}"):
        rule.delete()


@dataclass
class GoingTag:
    tag: str
    image_id: str
    rule_id: int  # the first rule that governs its repository (none of them keeps it)


@dataclass
class GoingImage:
    image_id: str
    tags: list
    size: int  # the engine's size of the image (its layers, shared ones too)
    rule_ids: list


@dataclass
class KeptImage:
    image_id: str
    tags: list
    reason: str  # why it stays although the rules let every tag of it go


@dataclass
class RetentionPlan:
    engine: str
    rule_ids: list
    images: list = field(default_factory=list)  # GoingImage: removed, every tag with them
    untagged: list = field(default_factory=list)  # GoingTag: tags removed from images that stay
    kept: list = field(default_factory=list)  # KeptImage: what always stays
    tags_checked: int = 0
    bytes_freed: int = 0

    @property
    def tags_going(self):
        return sum(len(image.tags) for image in self.images) + len(self.untagged)

    @property
    def empty(self):
        return not self.images and not self.untagged


def rules_of(engine_name, rule_ids=None):
    rules = RetentionRule.objects.filter(engine=engine_name, enabled=True)
    if rule_ids is not None:
        rules = rules.filter(pk__in=rule_ids)
    return list(rules)


def plan(engine, rules, now=None):
    """The dry run of `rules` (RetentionRule rows) on `engine`: what goes, what
    stays though the rules let it go, and the bytes freed. Two engine calls
    (images, containers) and, for images not seen before, their layers."""
    now = now or timezone.now()
    rule_ids = [rule.pk for rule in rules]
    result = RetentionPlan(engine=engine.name, rule_ids=rule_ids)
    if not rules:
        return result
    dangling_rules = [rule for rule in rules if rule.kind == RetentionRule.Kind.DANGLING]
    rules = [rule for rule in rules if rule.kind != RetentionRule.Kind.DANGLING]
    compiled = [(rule, checked_glob(rule.repository_pattern),
                 checked_pattern(rule.keep_pattern, "tag pattern") if rule.keep_pattern else None) for rule in rules]
    images = engine.list_images()
    containers = engine.list_containers()
    by_id = {image["Id"]: image for image in images}

    # Each governed repository's tags: (tag, image id, when made or moved).
    governed, rules_for = {}, {}
    for image in images:
        for tag in usage.tags_of(image):
            repository, _ = split_repo_tag(tag)
            if repository not in rules_for:
                rules_for[repository] = [entry for entry in compiled if _fullmatch(
                    entry[1], repository, "repository pattern", repr(entry[0].repository_pattern))]
            if rules_for[repository]:
                governed.setdefault(repository, []).append([tag, image["Id"], image.get("Created") or 0])
    result.tags_checked = sum(len(tags) for tags in governed.values())
    longest = max((rule.keep_days for rule in rules if rule.keep_days is not None), default=None)
    if longest is not None and governed:
        moved = dict(TagMove.objects.filter(engine=engine.name, at__gte=now - timedelta(days=longest))
                     .values_list("tag").annotate(last=Max("at")).values_list("tag", "last"))
        for tags in governed.values():
            for entry in tags:
                if entry[0] in moved:
                    entry[2] = max(entry[2], moved[entry[0]].timestamp())

    going_tags = {}  # tag -> GoingTag
    for repository, tags in governed.items():
        tags.sort(key=lambda entry: (-entry[2], entry[0]))
        kept = set()
        for rule, _, keep_pattern in rules_for[repository]:
            if rule.keep_last:
                kept.update(entry[0] for entry in tags[:rule.keep_last])
            if rule.keep_days is not None:
                since = (now - timedelta(days=rule.keep_days)).timestamp()
                kept.update(entry[0] for entry in tags if entry[2] >= since)
            if keep_pattern is not None:
                kept.update(entry[0] for entry in tags
                            if _fullmatch(keep_pattern, split_repo_tag(entry[0])[1], "tag pattern"))
        first_rule = rules_for[repository][0][0].pk
        going_tags.update((entry[0], GoingTag(entry[0], entry[1], first_rule)) for entry in tags
                          if entry[0] not in kept)

    # Images every tag of which goes, and dangling ones old enough; then those that always stay.
    going_by_image = {}
    for going in going_tags.values():
        going_by_image.setdefault(going.image_id, []).append(going)
    candidates = {image_id for image_id, going in going_by_image.items()
                  if len(going) == len(usage.tags_of(by_id[image_id]))}
    dangling = _dangling_going(engine, images, dangling_rules, now)
    candidates |= set(dangling)
    used = {container.get("ImageID") for container in containers} - {None}
    pinned = set(ImagePin.objects.filter(engine=engine.name, image_id__in=candidates)
                 .values_list("image_id", flat=True))
    reasons = {}
    for image_id in candidates:
        if image_id in used:
            reasons[image_id] = "a container uses it"
        elif image_id in pinned:
            reasons[image_id] = "pinned"
    staying = set(by_id) - candidates | set(reasons)
    # Containers' images too: one made from a hidden parent keeps that parent's layers.
    chains = layers.of_images(engine, list(set(by_id) | used), with_sizes=candidates - set(reasons))
    below, tops = set(), {}
    for image_id in staying:
        chain = chains[image_id].chain if image_id in chains else []
        if chain:
            below.update(chain[:-1])
            created = by_id[image_id].get("Created") or 0
            tops[chain[-1]] = max(tops.get(chain[-1], created), created)
    for image_id in candidates - set(reasons):
        chain = chains[image_id].chain if image_id in chains else []
        # Its chain inside a staying image's: its base. Same layers: the one made first is the base.
        if chain and (chain[-1] in below or (by_id[image_id].get("Created") or 0) < tops.get(chain[-1], -1)):
            reasons[image_id] = "the base of an image that stays"
        elif image_id not in chains:
            reasons[image_id] = "its layers could not be read"

    for image_id, going in [*going_by_image.items(), *((image_id, []) for image_id in dangling)]:
        tags = sorted(entry.tag for entry in going)
        if image_id in reasons:
            result.kept.append(KeptImage(image_id, tags, reasons[image_id]))
        elif image_id in candidates:
            rule_ids = sorted({entry.rule_id for entry in going}) if going else [dangling[image_id]]
            result.images.append(GoingImage(image_id, tags, by_id[image_id].get("Size") or 0, rule_ids))
        else:
            result.untagged.extend(sorted(going, key=lambda entry: entry.tag))
    result.images.sort(key=lambda image: (image.tags, image.image_id))
    result.kept.sort(key=lambda image: (image.tags, image.image_id))
    going_ids = {image.image_id for image in result.images}
    # The layers read above: every image's chain, the candidates' sizes (those going are among them).
    result.bytes_freed = freed.bytes_freed_of(chains, going_ids, set(by_id) - going_ids | used)
    return result



def _dangling_going(engine, images, rules, now):
    """{image id: the dangling rule that lets it go} of the images the engine
    calls dangling (as `docker image prune` does) made before the days the most
    lenient dangling rule keeps."""
    if not rules:
        return {}
    rule = max(rules, key=lambda rule: (rule.keep_days, -rule.pk))
    before = (now - timedelta(days=rule.keep_days)).timestamp()
    old = {image["Id"] for image in images if (image.get("Created") or 0) < before}
    return {image_id: rule.pk for image_id in usage.dangling_ids(engine, [image for image in images
                                                                          if image["Id"] in old])}

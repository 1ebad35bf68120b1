"""A build's provenance, recorded by the worker as the build starts: its source,
the Dockerfile's digest, its build args (secrets by id only), target and builder,
and each base image (FROM, COPY --from) as the engine holds it at that moment.

Bases are inspected just before the build is sent: BuildKit resolves a base
itself and says nothing of the image id it used, so what the engine held then
is the best record there is. A base the engine did not hold, or one a `pull`
build may have replaced, is inspected again once the build ends: the classic
builder keeps what it pulled in the image store; BuildKit keeps it in its own
store, so such a base stays unresolved, and says so, unless BuildKit named the
digest it fetched: then that digest is recorded, as the image store's copy of
the name (a stale tag, after a `pull`) is not what the build used.
"""

import hashlib
import re
from urllib.parse import urlsplit, urlunsplit

from images import engines
from images.builds import builders, contexts, dockerfile, fetches
from images.engine import EngineError, ImageNotFound
from images.models import Job, Provenance
from images.refs import InvalidReference, parse_reference, split_domain

HASH_CHUNK = 1024 * 1024
BEFORE, AFTER = "when the build started", "when the build ended"
UNRESOLVED = "not on the engine before the build, nor in its image store after: the builder fetched it itself"
FETCHED = "by the builder from the registry, when the build ran (it did not keep the image in the engine's image store)"
# BuildKit names the vertex of a base it resolved at the registry "[1/2] FROM <name>@sha256:<hex>" (or "FROM ..."
# alone, for COPY --from); a base taken from the image store has no digest there.
_FETCHED_FROM = re.compile(r"(?:^|\] )FROM (?P<reference>\S+)@(?P<digest>sha256:[0-9a-f]{64})$")


class BuildRecord:
    """One build's provenance, gathered as it runs and saved once it ends."""

    def __init__(self, job):
        self.job = job
        self.record = None
        self.fetched = {}  # {normalised reference: digest} of the bases BuildKit fetched from their registry

    def started(self, engine, arguments, text):
        """Call with the build's arguments (contexts.build_arguments) and the
        Dockerfile text about to be sent (None when the engine clones it)."""
        params = self.job.params
        build_args = params.get("build_args") or {}
        self.record = Provenance(
            job=self.job,
            source=_source(params, arguments, text),
            dockerfile_sha256=_sha256(text.encode("utf-8")) if text is not None else "",
            build_args=dict(build_args),
            secret_ids=list(params.get("secrets") or []),
            target=params.get("target") or "",
            builder=builders.of_recipe(params),
            bases=[_resolved(engine, base) for base in base_images(text, build_args)] if text is not None else [],
        )

    def builder_fetched(self, vertex_names):
        """Note the digests BuildKit says it fetched bases at (its graph's vertex names)."""
        for name in vertex_names:
            found = _FETCHED_FROM.search(name)
            if found and _normalised(found["reference"]):
                self.fetched[_normalised(found["reference"])] = found["digest"]

    def ended(self, engine):
        """Resolve what could not be resolved before, and store the record."""
        if self.record is None:
            return
        pulled = bool(self.job.params.get("pull"))
        for base in self.record.bases:
            if not base["image_id"] or pulled:
                base.update(_resolved(engine, base, when=AFTER, keep=base if base["image_id"] else None))
                fetched = self.fetched.get(_normalised(base["reference"]))
                if fetched and fetched != base["repo_digest"]:
                    # The image store's image under that name is another than the builder used.
                    base.update(image_id="", repo_digest=fetched, resolved=FETCHED)
        _note_previous(self.record.bases, self.job.retry_of)
        self.record.save()


def _note_previous(bases, earlier):
    """For a rebuild (or a retry): each base that is no longer what the earlier
    build used gets `previous` {image_id, repo_digest}, so that the record names
    both the base it replaced and the one it used."""
    if earlier is None:
        return
    before = Provenance.objects.filter(job=earlier).values_list("bases", flat=True).first() or []
    used = {(base["instruction"], base["reference"]): base for base in before}
    for base in bases:
        old = used.get((base["instruction"], base["reference"]))
        if old and (old.get("image_id"), old.get("repo_digest")) != (base["image_id"], base["repo_digest"]):
            base["previous"] = {"image_id": old.get("image_id") or "", "repo_digest": old.get("repo_digest") or ""}


def base_images(text, build_args):
    """[{instruction, line, reference}] for each image the Dockerfile builds FROM
    or copies from (not its own stages, not scratch), its variables given the
    values the build gives them: the build args, else the defaults of the ARGs
    before the first FROM."""
    values, stages, found, seen = {}, set(), [], set()
    started = False
    for line, keyword, flags, arguments in dockerfile.numbered(text):
        if keyword == "ARG" and not started:
            for argument in arguments:
                name, _, default = argument.partition("=")
                values[name] = build_args[name] if name in build_args else dockerfile.shell_word(default)
        elif keyword == "FROM" and arguments:
            started = True
            image = dockerfile.shell_word(fetches.expand(arguments[0], values))
            if image.lower() != "scratch" and image.lower() not in stages:
                found.append(("FROM", line, image))
            if len(arguments) == 3 and arguments[1].lower() == "as":
                stages.add(arguments[2].lower())
        elif keyword == "COPY" and flags.get("from"):
            image = dockerfile.shell_word(fetches.expand(flags["from"], values))
            if not image.isdigit() and image.lower() not in stages:
                found.append(("COPY --from", line, image))
    bases = []
    for instruction, line, image in found:
        if (instruction, image) not in seen:
            seen.add((instruction, image))
            bases.append({"instruction": instruction, "line": line, "reference": image})
    return bases


def _resolved(engine, base, when=BEFORE, keep=None):
    """The base with the image id and repo digest the engine holds for it now."""
    try:
        data = engine.inspect_image(base["reference"])
    except ImageNotFound:
        if keep is not None:
            return keep
        return {**base, "image_id": "", "repo_digest": "", "resolved": UNRESOLVED if when == AFTER else ""}
    except EngineError:
        if when == BEFORE:
            raise  # the build itself would fail on it
        return keep or {**base, "image_id": "", "repo_digest": "", "resolved": "the engine did not answer after the build"}
    return {**base, "image_id": data["Id"], "repo_digest": _repo_digest(base["reference"], data.get("RepoDigests")),
            "resolved": when}


def _normalised(reference):
    """`domain/path:tag` as BuildKit writes a reference (alpine -> docker.io/library/alpine:latest); "" for none."""
    try:
        name, tag, digest = parse_reference(reference)
    except InvalidReference:
        return ""
    if digest:
        return ""  # pinned: the engine's copy is the one named
    domain, path = split_domain(name)
    return f"{domain}/{path}:{tag or 'latest'}"


def _repo_digest(reference, digests):
    """The digest the reference names, else the one its repository has here."""
    try:
        name, _, digest = parse_reference(reference)
    except InvalidReference:
        return ""
    if digest:
        return digest
    digests = digests or []
    repository = reference.split("@")[0]
    repository = repository if ":" not in repository.rsplit("/", 1)[-1] else repository.rsplit(":", 1)[0]
    for entry in digests:
        if entry.split("@")[0] in (repository, name):
            return entry.split("@", 1)[1]
    return ""


def _source(params, arguments, text):
    kind = params["source"]
    if kind == "dockerfile":
        return {"kind": kind}  # the context is the Dockerfile alone: its digest says it all
    if kind == "upload":
        with open(contexts.stored_archive(params["context_file"]), "rb") as archive:
            digest = _file_sha256(archive)
        return {"kind": kind, "name": params.get("context_name") or "", "sha256": digest}
    if kind == "directory":
        # Of the tar Dockyard made and sent (the directory may change after).
        return {"kind": kind, "path": params["directory"], "sha256": _file_sha256(arguments["fileobj"])}
    return {"kind": "git", "url": _without_credentials(params["git_url"]), "commit": "",
            "resolved": "unresolved: the engine cloned the repository itself and does not say which commit"}


def _file_sha256(fileobj):
    fileobj.seek(0)
    digest = hashlib.sha256()
    while chunk := fileobj.read(HASH_CHUNK):
        digest.update(chunk)
    fileobj.seek(0)
    return "sha256:" + digest.hexdigest()


def _sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _without_credentials(url):
    """A git URL without a user or token it may carry."""
    if url.startswith("git@"):
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def of_image(image_id):
    """The provenance of the latest successful Dockyard build of this image on
    the active engine, or None: Dockyard did not build it (or built it before
    provenance was recorded)."""
    return (Provenance.objects.filter(job__engine=engines.active(), job__kind=Job.Kind.BUILD,
                                      job__state=Job.State.SUCCEEDED, job__image_id=image_id)
            .select_related("job", "job__created_by").order_by("-job__finished_at", "-job__pk").first())

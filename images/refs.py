"""Docker image references: validation and splitting, following the grammar of
distribution/reference (the one the engine itself applies)."""

import re

NAME_MAX_LENGTH = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

REFERENCE_RE = re.compile(rf"^(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$")
IMAGE_ID_RE = re.compile(r"^(?:sha256:)?(?P<hex>[a-f0-9]{12,64})$")


class InvalidReference(ValueError):
    pass


def parse_reference(text):
    """Return (name, tag, digest) for a valid reference, or raise InvalidReference
    with a sentence saying what is wrong."""
    if not text:
        raise InvalidReference("An image reference cannot be empty.")
    if len(text) > NAME_MAX_LENGTH + 1 + 128 + 1 + 71 + 64:
        raise InvalidReference("That reference is too long to be an image reference.")
    if text != text.strip():
        raise InvalidReference("An image reference cannot start or end with spaces.")
    match = REFERENCE_RE.match(text)
    if match is None:
        raise InvalidReference(_why_invalid(text))
    name = match["name"]
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidReference(f"The repository name is {len(name)} characters; the limit is {NAME_MAX_LENGTH}.")
    return name, match["tag"], match["digest"]


def _why_invalid(text):
    if any(ch.isspace() for ch in text):
        return "An image reference cannot contain spaces."
    name = text.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        tag = last.split(":", 1)[1]
        if not re.fullmatch(_TAG, tag):
            return (f"The tag {tag!r} is not valid: a tag is 1 to 128 letters, digits, '_', '.' or '-', "
                    "and cannot start with '.' or '-'.")
    if "@" in text and not re.fullmatch(_DIGEST, text.split("@", 1)[1]):
        return "The digest after '@' must look like sha256: followed by at least 32 hex digits."
    if any(ch.isupper() for ch in _without_domain(split_repo_tag(name)[0])):
        return "Repository names must be lowercase."
    return ("That is not a valid image reference: use [registry/]name[:tag][@digest], where names are "
            "lowercase letters, digits and single '.', '_' or '-' separators.")


def _without_domain(repository):
    """The repository path without its registry domain, which may have capitals."""
    if registry_of(repository) == DEFAULT_REGISTRY:
        return repository
    return repository.partition("/")[2]


DEFAULT_REGISTRY = "docker.io"


def registry_of(reference):
    """The registry host a reference points at: its first component when that
    looks like a host, Docker Hub otherwise."""
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return DEFAULT_REGISTRY


_DOCKER_HUB_HOSTS = (DEFAULT_REGISTRY, "index.docker.io")


def familiar_name(reference):
    """A valid reference as the engine lists it in RepoTags (distribution/reference's
    FamiliarString after TagNameOnly): Docker Hub's domain and 'library/' before
    a one-part name are dropped, and a reference with neither tag nor digest gets
    ':latest'. 'docker.io/library/app' -> 'app:latest'."""
    name, tag, digest = parse_reference(reference)
    first, _, rest = name.partition("/")
    if rest and (first in _DOCKER_HUB_HOSTS or registry_of(name) != DEFAULT_REGISTRY):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_REGISTRY, name
    if domain in _DOCKER_HUB_HOSTS:
        if path.startswith("library/") and "/" not in path[len("library/"):]:
            path = path[len("library/"):]
        familiar = path
    else:
        familiar = f"{domain}/{path}"
    if tag is None and digest is None:
        tag = "latest"
    return familiar + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def is_image_id(text):
    return IMAGE_ID_RE.match(text) is not None


def split_repo_tag(repo_tag):
    """'registry:5000/app:1.0' -> ('registry:5000/app', '1.0'); the tag is after
    the last ':' that follows the last '/'."""
    slash = repo_tag.rfind("/")
    colon = repo_tag.rfind(":")
    if colon > slash:
        return repo_tag[:colon], repo_tag[colon + 1 :]
    return repo_tag, ""


def short_id(image_id):
    return image_id.split(":", 1)[-1][:12]

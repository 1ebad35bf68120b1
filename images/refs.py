"""Docker image references: validation and splitting, following the grammar of
distribution/reference (the one the engine itself applies)."""

import hashlib
import ipaddress
import re

NAME_MAX_LENGTH = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
# An IPv6 literal in brackets ("[::1]:5000"), as distribution/reference takes
# it since v0.6 (and engines and registries built on it); Engine 20.10 refuses it itself.
_IPV6 = r"\[(?P<ipv6>[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_IPV6}|{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*)(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
# The grammar of any digest; only sha256's is supported (`_SHA256`), as go-digest
# and the engine support it: a wrong length or another algorithm never reaches the engine.
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_SHA256 = re.compile(r"sha256:[a-f0-9]{64}")

REFERENCE_RE = re.compile(rf"^(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$")
IMAGE_ID_RE = re.compile(r"^(?:sha256:)?(?P<hex>[a-f0-9]{12,64})$")
FULL_ID_RE = re.compile(r"^[a-f0-9]{64}$")


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
    if FULL_ID_RE.match(text):
        raise InvalidReference("64 hex digits are an image id, not a repository name.")
    name = match["name"]
    if match["ipv6"] is not None:
        _check_ipv6(match["ipv6"])
    if match["digest"] is not None:
        _check_digest(match["digest"])
    first = name.partition("/")[0]
    domain, path = split_domain(name)
    if domain == first and not _names_host(first):
        # Chosen as the host only because of its capitals. distribution/reference
        # sends `Docker/docker` to a host named `Docker`, Engine 20.10 refuses it as
        # not lowercase; Dockyard refuses it too, so that a name that reads like
        # Docker Hub's never takes a Docker Hub login to a host of that name.
        raise InvalidReference(f"Repository names must be lowercase: {first!r} has capitals but no '.' or ':'. "
                               f"Newer Docker reads it as a registry host called {first!r}, Docker 20.10 refuses "
                               "it; Dockyard refuses it so that a Docker Hub login is never sent to such a host. "
                               "Write a registry host with its domain or port, or the name in lowercase.")
    # The limit holds for the repository's path as the registry gets it: `app` is library/app.
    if len(path) > NAME_MAX_LENGTH:
        raise InvalidReference(f"The repository name is {len(path)} characters as the registry reads it "
                               f"({path[:40]}...); the limit is {NAME_MAX_LENGTH}.")
    return name, match["tag"], match["digest"]


def _check_ipv6(text):
    try:
        ipaddress.IPv6Address(text)
    except ValueError as exc:
        raise InvalidReference(f"[{text}] is not an IPv6 address: {exc}.") from exc


def _check_digest(digest):
    if _SHA256.fullmatch(digest):
        return
    algorithm, _, hex_digits = digest.partition(":")
    if algorithm != "sha256":
        raise InvalidReference(f"The digest algorithm {algorithm!r} is not supported: a digest is sha256: "
                               "followed by 64 lowercase hex digits.")
    raise InvalidReference(f"A sha256 digest is 64 lowercase hex digits; this one has {len(hex_digits)}"
                           f"{'' if hex_digits == hex_digits.lower() else ' and capitals'}.")


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
    if text.startswith("["):
        return ("A registry host given as an IPv6 address is written in brackets, with a repository after it: "
                "[2001:db8::1]:5000/name. Zones (%eth0) and IPv4 forms inside are not taken.")
    if "@" in text and not re.fullmatch(_DIGEST, text.split("@", 1)[1]):
        return "The digest after '@' must be sha256: followed by 64 lowercase hex digits."
    if any(ch.isupper() for ch in _without_domain(split_repo_tag(name)[0])):
        return "Repository names must be lowercase."
    return ("That is not a valid image reference: use [registry/]name[:tag][@digest], where names are "
            "lowercase letters, digits and single '.', '_' or '-' separators.")


def _without_domain(repository):
    """The repository path without its registry domain, which may have capitals."""
    rest = repository.partition("/")[2]
    return rest if rest and split_domain(repository)[0] != DEFAULT_REGISTRY else repository


DEFAULT_REGISTRY = "docker.io"
LEGACY_REGISTRY = "index.docker.io"
OFFICIAL_PREFIX = "library/"


def _names_host(component):
    return "." in component or ":" in component or component == "localhost"


def split_domain(name):
    """(domain, path) of a repository name, as distribution/reference's
    splitDockerDomain reads it: the first of several components is the host
    when it has a '.' or ':', is `localhost`, or has a capital (names cannot);
    otherwise the name is Docker Hub's, and a one-component name is under
    `library/`. `index.docker.io` is Docker Hub's old name."""
    first, slash, rest = name.partition("/")
    if not slash:
        return DEFAULT_REGISTRY, OFFICIAL_PREFIX + name
    if first == LEGACY_REGISTRY:
        domain, path = DEFAULT_REGISTRY, rest
    elif _names_host(first) or first.lower() != first:
        domain, path = first, rest
    else:
        domain, path = DEFAULT_REGISTRY, name
    if domain == DEFAULT_REGISTRY and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def split_host_port(host):
    """'registry:5000' -> ('registry', '5000'); '[::1]:5000' -> ('[::1]', '5000');
    '[::1]' -> ('[::1]', '')."""
    if host.startswith("["):
        closing = host.find("]")
        if closing != -1:
            return host[:closing + 1], host[closing + 2:] if host[closing + 1:closing + 2] == ":" else ""
    name, colon, port = host.rpartition(":")
    return (name, port) if colon else (host, "")


def registry_of(reference):
    """The registry host a reference points at, as the engine reads it
    ('docker.io' for Docker Hub). A tag or digest may follow the name."""
    return split_domain(reference.partition("@")[0])[0]


def names_registry(reference):
    """Whether a reference spells out its registry host ('127.0.0.1:5000/app',
    'docker.io/library/app'), rather than leaving Docker Hub implied ('app')."""
    first, slash, _ = reference.partition("@")[0].partition("/")
    return bool(slash) and (_names_host(first) or first.lower() != first)


def full_name(reference):
    """The reference with its registry and path spelt out, as the engine reads
    it: 'app:1' -> 'docker.io/library/app:1'."""
    name, tag, digest = parse_reference(reference)
    domain, path = split_domain(name)
    return f"{domain}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


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


def hex_id(image_id):
    """'sha256:abc…' -> 'abc…', the form image URLs use."""
    return image_id.split(":", 1)[-1]


def short_id(image_id):
    """The 12 hex digits `docker images` shows."""
    return hex_id(image_id)[:12]


def familiar_name(reference):
    """The reference as the engine shows it (RepoTags, `docker images`): Docker
    Hub's domain and `library/` dropped, tag `latest` when it has neither tag nor
    digest. 'docker.io/library/app' -> 'app:latest'."""
    name, tag, digest = parse_reference(reference)
    domain, path = split_domain(name)
    if domain != DEFAULT_REGISTRY:
        familiar = f"{domain}/{path}"
    elif path.startswith(OFFICIAL_PREFIX) and "/" not in path[len(OFFICIAL_PREFIX):]:
        familiar = path[len(OFFICIAL_PREFIX):]
    else:
        familiar = path
    if not tag and not digest:
        tag = "latest"
    return familiar + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def chain_ids(diff_ids):
    """The OCI chain id of each layer: the first is its diff id, each next the
    sha256 of "<chain id below> <diff id>"."""
    chain = []
    for diff_id in diff_ids:
        chain.append(diff_id if not chain else
                     "sha256:" + hashlib.sha256(f"{chain[-1]} {diff_id}".encode()).hexdigest())
    return chain

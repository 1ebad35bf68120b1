"""What the engine may fetch for a job: registries for pulls, pushes and base
images, and the hosts of `ADD <url>` sources.

The engine fetches from wherever it can reach, this host's loopback services
and the cloud's metadata address included, for whoever can write a reference
or a Dockerfile. These checks are made when a job is asked for and again in
the worker (an old recipe is not trusted). They are not the boundary: a name
can resolve differently when the engine looks it up, and a RUN step opens what
sockets it likes unless DOCKYARD_BUILD_NETWORK is `none`. The network the
engine sits in is.
"""

import ipaddress
import itertools
import os
import posixpath
import re
import socket
import tarfile
import zipfile
from urllib.parse import urlsplit

from django.conf import settings

from images.builds import contexts, dockerfile
from images.builds.contexts import ContextError
from images.refs import InvalidReference, parse_reference, registry_of, split_host_port


class FetchRefused(ContextError):
    pass


def check_registry(reference, what="Pulls and pushes"):
    """Refuse a reference whose registry is neither in DOCKYARD_REGISTRY_HOSTS
    nor on the Registries page. An allowed `host` allows it on any port;
    `host:port` only that port; `*` any registry."""
    from images.models import Registry  # models imports refs, which this module imports

    host = registry_of(reference).lower()
    names = {host, split_host_port(host)[0], "*"}
    if names & set(settings.DOCKYARD_REGISTRY_HOSTS):
        return reference
    configured = {address.lower() for address in Registry.objects.values_list("address", flat=True)}
    if names & configured:
        return reference
    allowed = {*settings.DOCKYARD_REGISTRY_HOSTS, *configured}
    raise FetchRefused(f"{what} may not use the registry {host}: allowed registries are "
                       f"{', '.join(sorted(allowed)) or 'none'} (DOCKYARD_REGISTRY_HOSTS and the Registries page).")


def check_dockerfile(text, build_args=None):
    """Refuse a Dockerfile whose FROM or COPY --from names an image on a registry
    that is not allowed, or whose ADD fetches a URL from a host that is not
    allowed (see check_fetch_url). Variables are expanded with every value the
    file or the build args give them. The file is read with either escape
    character, so no engine's reading of the `# escape=` directive (older
    builders stop at the first other directive) slips past."""
    for escape in dockerfile.ESCAPES:
        _check_instructions(dockerfile.parse(text, escape), escape, build_args or {})
    return text


def _check_instructions(instructions, escape, build_args):
    for kind, what, where in _fetched(instructions, escape, build_args):
        if kind == "image":
            _check_image(what, where)
        else:
            check_fetch_url(what)


def _fetched(instructions, escape, build_args):
    """("image", reference, where) for each image a FROM or COPY --from names
    (stages excepted), ("url", url, where) for each URL an ADD fetches, with
    every value the variables can take."""
    values = dockerfile.variables(instructions, build_args)
    stages = set()

    def words(word, where):
        for expanded in _expansions(word, values, where):
            yield dockerfile.shell_word(expanded, escape)

    for number, (keyword, flags, arguments) in enumerate(dockerfile.effective(instructions), 1):
        if keyword == "FROM":
            if arguments:
                for image in words(arguments[0], f"the FROM of instruction {number}"):
                    if image.lower() != "scratch" and image.lower() not in stages:
                        yield "image", image, f"FROM {arguments[0]}"
            if len(arguments) == 3 and arguments[1].lower() == "as":
                stages.add(arguments[2].lower())
        elif keyword == "COPY" and flags.get("from") is not None:
            for image in words(flags["from"], f"the --from of instruction {number}"):
                if not image.isdigit() and image.lower() not in stages:
                    yield "image", image, f"COPY --from={flags['from']}"
        elif keyword == "ADD":
            for argument in arguments[:-1]:
                for source in words(argument, f"an ADD source of instruction {number}"):
                    if "://" in source:
                        yield "url", source, f"ADD {source}"


def registries_named(text, build_args=None):
    """The registry hosts (lowercase) of the images a Dockerfile builds FROM or
    copies from, as the engine will pull them; call after check_dockerfile."""
    hosts = set()
    for escape in dockerfile.ESCAPES:
        for kind, image, _ in _fetched(dockerfile.parse(text, escape), escape, build_args or {}):
            if kind == "image":
                hosts.add(registry_of(image).lower())
    return hosts


def _check_image(image, where):
    try:
        parse_reference(image)
    except InvalidReference as exc:
        raise FetchRefused(f"{where}: {exc}") from exc
    check_registry(image, what=f"{where}: builds")


MAX_EXPANSIONS = 256
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<modifier>:[-+][^}]*)?\}"
                       r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def _expansions(word, values, where, depth=3, budget=None):
    """Every text `word` can become with the variables' known values (a value
    may name another variable: expanded again, up to `depth` times), at most
    MAX_EXPANSIONS of them."""
    budget = [MAX_EXPANSIONS] if budget is None else budget
    names = sorted({match["braced"] or match["bare"] for match in _VARIABLE.finditer(word)})
    if not names:
        budget[0] -= 1
        if budget[0] < 0:
            raise FetchRefused(f"{where} can take more than {MAX_EXPANSIONS} values; write it out.")
        yield word
        return
    if depth == 0:
        raise FetchRefused(f"{where} ({word!r}) nests variables too deeply for Dockyard to check; write it out.")
    choices = [sorted(values.get(name) or {""}) for name in names]
    for combination in itertools.product(*choices):
        chosen = dict(zip(names, combination))
        yield from _expansions(_VARIABLE.sub(lambda match: _substitute(match, chosen), word), values, where,
                               depth - 1, budget)


def expand(word, values):
    """`word` with its variables given `values` (one each; a name without one is
    empty), as the builder expands the image a FROM names."""
    chosen = {match["braced"] or match["bare"]: "" for match in _VARIABLE.finditer(word)}
    chosen.update((name, value) for name, value in values.items() if name in chosen)
    return _VARIABLE.sub(lambda match: _substitute(match, chosen), word)


def _substitute(match, chosen):
    value = chosen[match["braced"] or match["bare"]]
    modifier = match["modifier"]
    if not modifier:
        return value
    if modifier.startswith(":-"):
        return value or modifier[2:]
    return modifier[2:] if value else ""


def check_fetch_url(url):
    """Refuse a URL for the engine to fetch unless its host is in
    DOCKYARD_BUILD_FETCH_HOSTS or resolves only to public addresses: not
    loopback, link-local (cloud metadata), private, shared, unspecified,
    reserved or multicast, in any spelling (2130706433, 0x7f.1, [::ffff:127.0.0.1])."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".")
    except ValueError as exc:
        raise FetchRefused(f"ADD {url}: not a URL Dockyard can read ({exc}).") from None
    if not host:
        return url  # nothing the engine could fetch from
    if host.lower() in settings.DOCKYARD_BUILD_FETCH_HOSTS:
        return url
    for address in _addresses(host, url):
        if not _public(address):
            raise FetchRefused(f"ADD {url}: {host} is {address}, a {_kind(address)} address; builds may fetch "
                               f"only from public addresses or from DOCKYARD_BUILD_FETCH_HOSTS "
                               f"({', '.join(settings.DOCKYARD_BUILD_FETCH_HOSTS) or 'none'}).")
    return url


# No top-level domain is a number: a host whose last label is one is an address or nothing.
_NUMERIC = re.compile(r"(?:^|\.)(?:0[xX][0-9a-fA-F]*|[0-9]+)$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def _addresses(host, url):
    try:
        return [ipaddress.ip_address(host.partition("%")[0])]
    except ValueError:
        pass
    if _NUMERIC.search(host):
        # The forms inet_aton takes, as the engine's resolver would: 2130706433, 0x7f.1, 0177.0.0.1, 127.1.
        try:
            return [ipaddress.IPv4Address(socket.inet_aton(host))]
        except OSError:
            raise FetchRefused(f"ADD {url}: {host} is not an address Dockyard can read.") from None
    if not _HOSTNAME.match(host):
        raise FetchRefused(f"ADD {url}: {host!r} is not a host name Dockyard can check.")
    try:
        # A name is resolved, so one that points inside counts as inside.
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchRefused(f"ADD {url}: the host {host} cannot be resolved here ({exc}).") from None
    return [ipaddress.ip_address(info[4][0].partition("%")[0]) for info in found]


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded(address):
    if address.version == 6:
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _public(address):
    address = _embedded(address)
    return address.is_global and not address.is_multicast


def _kind(address):
    address = _embedded(address)
    for kind in ("loopback", "link_local", "private", "multicast", "unspecified", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return "non-public"


# Builds -------------------------------------------------------------------------

DOCKERFILE_LIMIT = 1024 * 1024


def check_build(params, upload=None):
    """check_dockerfile for a build's Dockerfile, wherever the form has it: typed,
    in the uploaded archive (`upload`, not yet saved), or in a server directory
    (the worker checks again what it sends: check_sent_context). A git context
    is cloned by the engine itself, so its Dockerfile (and its submodules)
    cannot be read first."""
    text = _dockerfile_of(params, upload)
    if text is not None:
        check_dockerfile(text, params.get("build_args"))


def check_sent_context(arguments, build_args=None):
    """check_dockerfile for the Dockerfile in the very context about to be sent
    (`arguments` for EngineStream.build): a builder may change a server
    directory's Dockerfile after it was checked by its path, but not this copy.
    A git context (a path for the engine to clone) has none to read. Return the
    text checked, or None."""
    context = arguments.get("fileobj")
    if context is None:
        return
    path = arguments.get("dockerfile") or "Dockerfile"
    candidates = [path, "dockerfile"] if path == "Dockerfile" else [path]
    context.seek(0)
    try:
        text = _from_archive(context, "tar.gz" if arguments.get("encoding") == "gzip" else "tar", candidates)
    finally:
        context.seek(0)
    if text is not None:
        check_dockerfile(text, build_args)
    return text


def _dockerfile_of(params, upload):
    source = params["source"]
    if source == "dockerfile":
        return params.get("dockerfile_text") or ""
    path = contexts.check_dockerfile_path(params.get("dockerfile"))
    # The classic builder looks for `dockerfile` when the default `Dockerfile` is missing.
    candidates = [path, "dockerfile"] if path == "Dockerfile" else [path]
    if source == "directory":
        root = contexts.resolve_directory(params["directory"])
        for candidate in candidates:
            real = os.path.realpath(os.path.join(root, candidate))
            if not (real == root or real.startswith(root + os.sep)):
                raise FetchRefused(f"The Dockerfile {candidate!r} leads outside the directory.")
            if os.path.isfile(real):
                with open(real, "rb") as file:
                    return _decoded(file.read(DOCKERFILE_LIMIT + 1))
        return None
    if source == "upload":
        kind = contexts.archive_format(upload.name)
        upload.seek(0)
        try:
            return _from_archive(upload, kind, candidates)
        finally:
            upload.seek(0)
    return None


def _from_archive(archive, kind, candidates):
    try:
        return _read_archive(archive, kind, candidates)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FetchRefused(f"The Dockerfile could not be read from the archive ({exc}).") from exc


def _read_archive(archive, kind, candidates):
    """The Dockerfile's text from an archive (read as a stream), or None."""
    if kind == "zip":
        with zipfile.ZipFile(archive) as opened:
            names = {posixpath.normpath(name): name for name in opened.namelist()}
            for candidate in candidates:
                if candidate in names:
                    with opened.open(names[candidate]) as member:
                        return _decoded(member.read(DOCKERFILE_LIMIT + 1))
        return None
    with tarfile.open(fileobj=archive, mode="r|gz" if kind == "tar.gz" else "r|") as tar:
        found = {}
        for info in tar:
            name = posixpath.normpath(info.name)
            if name in candidates and name not in found:
                if info.issym() or info.islnk():
                    raise FetchRefused(f"The Dockerfile {info.name!r} in the archive is a link: "
                                       "give the path of the file it points at.")
                if info.isfile():
                    found[name] = _decoded(tar.extractfile(info).read(DOCKERFILE_LIMIT + 1))
            if candidates[0] in found:
                break
        return next((found[candidate] for candidate in candidates if candidate in found), None)


def _decoded(data):
    if len(data) > DOCKERFILE_LIMIT:
        raise FetchRefused(f"The Dockerfile is over {DOCKERFILE_LIMIT:,} bytes, too big for Dockyard to check.")
    return data.decode("utf-8", errors="replace")

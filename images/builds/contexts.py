"""Build contexts: what a build job sends the engine, from each kind of source.

A context is made in the worker, from the job's stored parameters, and is
streamed from disk rather than held in memory.
"""

import gzip
import io
import os
import posixpath
import re
import stat
import tarfile
import tempfile
import uuid
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from images.engine import IgnoreRules

SOURCES = {
    "dockerfile": "Dockerfile typed on the page",
    "upload": "Uploaded context",
    "directory": "Directory on the server",
    "git": "Git repository",
}
ARCHIVE_FORMATS = {".tar": "tar", ".tar.gz": "tar.gz", ".tgz": "tar.gz", ".zip": "zip"}


class ContextError(ValueError):
    pass


def archive_format(filename):
    name = filename.lower()
    for suffix, kind in ARCHIVE_FORMATS.items():
        if name.endswith(suffix):
            return kind
    raise ContextError("A build context must be a .tar, .tar.gz (.tgz) or .zip file.")


def save_upload(upload, kind=None, checked=False):
    """Keep an uploaded archive under DOCKYARD_CONTEXT_DIR, where a rebuild or
    retry finds it again; return its stored name. An archive check_archive
    refuses is not kept; `checked` says check_upload has already read it."""
    kind = kind or archive_format(upload.name)
    _check_size(upload)
    folder = Path(settings.DOCKYARD_CONTEXT_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.{kind}"
    try:
        _store(upload, folder / name)
        if not checked:
            check_archive(folder / name, kind)
    except BaseException:
        (folder / name).unlink(missing_ok=True)
        raise
    return name


def _store(upload, path):
    """Put the upload's bytes at `path`: a hard link to the file an upload
    handler wrote them to (copying gigabytes costs as much as receiving them),
    else a copy."""
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:
        upload.file.flush()
        try:
            os.link(temporary(), path)
            return
        except OSError:  # on another filesystem
            pass
    with open(path, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)


def check_upload(upload, kind=None):
    """save_upload's checks, for an upload not saved yet (a form's clean());
    return the archive's kind."""
    kind = kind or archive_format(upload.name)
    _check_size(upload)
    upload.seek(0)
    try:
        _check_stream(upload, kind)
    finally:
        upload.seek(0)
    return kind


def check_archive(path, kind):
    """Refuse an archive ("tar", "tar.gz" or "zip") that could write outside its
    root when unpacked, carries device files or FIFOs, or holds more than
    DOCKYARD_ARCHIVE_MAX_MEMBERS members or DOCKYARD_ARCHIVE_MAX_UNPACKED bytes.
    Uploads are hostile: the archive is read once, as a stream, and nothing is
    extracted; a bomb costs at most the unpacked limit in decompression."""
    with open(path, "rb") as archive:
        _check_stream(archive, kind)


def _check_size(upload):
    if upload.size > settings.DOCKYARD_UPLOAD_LIMIT:
        raise ContextError(f"The context is {upload.size:,} bytes; the limit is {settings.DOCKYARD_UPLOAD_LIMIT:,}.")


def _check_stream(archive, kind):
    if kind == "zip":
        _check_zip(archive)
    else:  # gunzipped here rather than by tarfile ("r|gz"), so _check_tar meters the unpacked bytes
        _check_tar(gzip.GzipFile(fileobj=archive, mode="rb") if kind == "tar.gz" else archive, kind)


# tarfile reads pax and GNU long-name headers whole into memory before it returns a
# member: no real archive has one anywhere near this big.
HEADER_ROOM = 1024 * 1024
# What tarfile reads at a time (it skips member data by reading it): its
# default of 10 KB made the check of a 2 GB upload take seconds.
TAR_READ = 256 * 1024
DEVICES = {tarfile.CHRTYPE: "a character device", tarfile.BLKTYPE: "a block device", tarfile.FIFOTYPE: "a FIFO"}
ZIP_BOMB_RATIO, ZIP_BOMB_SIZE = 200, 1024 * 1024
DRIVE = re.compile(r"[A-Za-z]:/")


class _Overrun(Exception):
    pass


class _Meter:
    """A reader that raises _Overrun once more than `limit` bytes are read."""

    def __init__(self, stream, limit):
        self.stream, self.limit, self.count = stream, limit, 0

    def read(self, size):
        data = self.stream.read(size)
        self.count += len(data)
        if self.count > self.limit:
            raise _Overrun
        return data


class _Tally:
    """Members and unpacked bytes so far, against the DOCKYARD_ARCHIVE_MAX_* limits."""

    def __init__(self):
        self.members = self.size = 0

    def add(self, name, size):
        self.members += 1
        self.size += size
        if self.members > settings.DOCKYARD_ARCHIVE_MAX_MEMBERS:
            raise ContextError(f"The archive holds more than {settings.DOCKYARD_ARCHIVE_MAX_MEMBERS:,} members; "
                               f"{name!r} is one too many.")
        if self.size > settings.DOCKYARD_ARCHIVE_MAX_UNPACKED:
            raise ContextError(f"The archive unpacks to more than {settings.DOCKYARD_ARCHIVE_MAX_UNPACKED:,} bytes "
                               f"once {name!r} is counted.")


def _check_tar(stream, kind):
    meter, tally = _Meter(stream, HEADER_ROOM + TAR_READ), _Tally()
    links, symlinks, last = {}, [], None
    try:
        with tarfile.open(fileobj=meter, mode="r|", bufsize=TAR_READ) as tar:
            while (info := tar.next()) is not None:
                tar.members.clear()  # tarfile keeps every member read; this check needs none of them
                tally.add(info.name, info.size)
                path = _member_path(info.name, links)
                if info.type in DEVICES:
                    raise ContextError(f"The archive member {info.name!r} is {DEVICES[info.type]}, which has no "
                                       "place in an uploaded archive.")
                if info.issym():
                    head, _, base = path.rpartition("/")
                    key = "/".join([*_resolve(head, links), base])
                    links[key] = info.linkname.replace("\\", "/")
                    symlinks.append((info.name, info.linkname, key))
                elif info.islnk() and _outside(info.linkname.replace("\\", "/"), links):
                    raise ContextError(f"The archive member {info.name!r} is a hard link to {info.linkname!r}, "
                                       "outside the archive.")
                # tarfile skips member data by reading it: allow that, a header's worth more,
                # and the one read it may be ahead by.
                meter.limit, last = tar.offset + HEADER_ROOM + TAR_READ, info.name
    except _Overrun:
        where = f"after {last!r}" if last else "at its start"
        raise ContextError(f"The archive has a header over {HEADER_ROOM:,} bytes {where}, "
                           "more than any real archive needs.") from None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ContextError(f"The uploaded file is not a valid {kind} archive.") from exc
    # Symlinks are followed when the context is used, once all of them exist.
    for name, target, key in symlinks:
        if _absolute(links[key]) or _resolve(posixpath.join(posixpath.dirname(key), links[key]), links) is None:
            raise ContextError(f"The archive member {name!r} is a symlink to {target!r}, outside the archive.")


def _check_zip(archive):
    try:
        with zipfile.ZipFile(archive) as opened:
            members = opened.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ContextError("The uploaded file is not a valid zip archive.") from exc
    tally = _Tally()
    for member in members:
        tally.add(member.filename, member.file_size)
        _member_path(member.filename, {})  # _zip_to_tar makes links and devices plain files
        if member.file_size > ZIP_BOMB_SIZE and member.file_size > ZIP_BOMB_RATIO * member.compress_size:
            ratio = member.file_size // max(member.compress_size, 1)
            raise ContextError(f"The archive member {member.filename!r} expands {ratio:,}-fold, "
                               "like a zip bomb.")


def _member_path(name, links):
    """The member's name with backslashes as separators (as some unpackers take
    them), refused if it leads outside the root."""
    path = name.replace("\\", "/")
    if _outside(path, links):
        raise ContextError(f"The archive member {name!r} points outside the archive.")
    return path


def _absolute(path):
    return path.startswith("/") or DRIVE.match(path) is not None


def _outside(path, links):
    return _absolute(path) or _resolve(path, links) is None


def _resolve(path, links, hops=40):
    """The components of `path`, relative to the archive's root, once unpacked:
    the archive's own symlinks (`links`, by unpacked path) are followed as the
    kernel would, so `l/..` with `l -> .` is caught. None if it leaves the root,
    or takes more than `hops` links (a loop)."""
    where, todo = [], path.split("/")[::-1]
    while todo:
        part = todo.pop()
        if part == "..":
            if not where:
                return None
            where.pop()
        elif part not in ("", "."):
            where.append(part)
            target = links.get("/".join(where))
            if target is not None:
                hops -= 1
                if hops < 0 or _absolute(target):
                    return None
                where.pop()
                todo.extend(reversed(target.split("/")))
    return where


def discard_upload(name):
    """Delete an upload kept for a job that was then refused."""
    (Path(settings.DOCKYARD_CONTEXT_DIR) / Path(name).name).unlink(missing_ok=True)


def stored_archive(name):
    path = Path(settings.DOCKYARD_CONTEXT_DIR) / Path(name).name
    if not path.is_file():
        raise ContextError("The uploaded archive of this job is no longer on the server.")
    return path


def missing_archive(params):
    """Why a job's recipe cannot run again, if the upload it needs is no longer
    kept (removed DOCKYARD_JOB_RETENTION_DAYS after its last job ended); else None."""
    name = params.get("context_file") or params.get("archive_file")
    if not name or (Path(settings.DOCKYARD_CONTEXT_DIR) / Path(name).name).is_file():
        return None
    what = "context" if params.get("context_file") else "archive"
    return (f"the uploaded {what} is no longer on the server (uploads are kept "
            f"{settings.DOCKYARD_JOB_RETENTION_DAYS} days after their last job ends).")


def check_dockerfile_path(path):
    """The -f path must stay inside the context."""
    path = path or "Dockerfile"
    normalized = posixpath.normpath(path)
    if path.startswith("/") or normalized == ".." or normalized.startswith("../") or "\\" in path:
        raise ContextError(f"The Dockerfile path {path!r} must be a relative path inside the context.")
    return normalized


def check_git_url(url):
    """A git URL the engine may fetch: a scheme and host from DOCKYARD_GIT_SCHEMES
    and DOCKYARD_GIT_HOSTS (the engine would otherwise fetch from anywhere it can
    reach, this host's loopback services included), and a ref that is no option."""
    if url.startswith("git@"):  # scp-like ssh: git@host:path
        scheme, host = "ssh", url[4:].partition(":")[0]
    else:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ContextError("A git URL cannot contain spaces or control characters.")
    if scheme not in settings.DOCKYARD_GIT_SCHEMES:
        raise ContextError(f"Git URLs must use {' or '.join(settings.DOCKYARD_GIT_SCHEMES)}; this one uses "
                           f"{scheme or 'no scheme'}.")
    if host.lower() not in settings.DOCKYARD_GIT_HOSTS:
        allowed = ", ".join(settings.DOCKYARD_GIT_HOSTS) or "none (DOCKYARD_GIT_HOSTS is empty)"
        raise ContextError(f"Builds from {host or 'this host'} are not allowed; allowed git hosts: {allowed}.")
    ref = url.partition("#")[2]
    if any(part.startswith("-") for part in ref.split(":")):
        raise ContextError("The ref after '#' cannot start with '-'.")
    return url


def resolve_directory(path):
    """A server directory, after symlinks, inside one of DOCKYARD_BUILD_ROOTS."""
    if not _build_roots():
        raise ContextError("Builds from server directories are off: DOCKYARD_BUILD_ROOTS names no directory.")
    real = os.path.realpath(path)
    if not _inside_build_root(real):
        raise ContextError(f"{path!r} is not inside an allowed build root ({', '.join(_build_roots())}).")
    if not os.path.isdir(real):
        raise ContextError(f"{path!r} is not a directory.")
    return real


def build_network():
    """The network RUN steps get (DOCKYARD_BUILD_NETWORK); None for the engine's default."""
    network = settings.DOCKYARD_BUILD_NETWORK
    return None if network == "default" else network


def _build_roots():
    return [os.path.realpath(root) for root in settings.DOCKYARD_BUILD_ROOTS]


def _inside_build_root(real):
    return any(real == root or real.startswith(root + os.sep) for root in _build_roots())


# Directory contexts ---------------------------------------------------------
#
# Whoever can write inside a build root can swap a directory for a symlink
# while the context is read. So the tree is walked from directory descriptors:
# nothing is opened by a path resolved again after the check, nothing through a
# symlink (O_NOFOLLOW), and symlinks go into the tar as symlinks, which the
# engine resolves inside its own copy of the context. FIFOs, sockets and device
# files are left out (as the SDK leaves out sockets): a context has no use for
# them, and opening one could block or touch a device.

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
DOCKERIGNORE_MAX = 1024 * 1024
MAX_DEPTH = 256


def open_directory(path):
    """A descriptor of the server directory `path`, checked inside a build root
    both before it is opened and, by the kernel's own name for it, after."""
    real = resolve_directory(path)
    try:
        fd = os.open(real, _DIRECTORY)
    except OSError as exc:
        raise ContextError(f"{path!r} could not be opened as a directory ({exc.strerror}).") from exc
    # A component of the path may have become a symlink since realpath looked.
    opened = os.readlink(f"/proc/self/fd/{fd}")
    if not _inside_build_root(opened):
        os.close(fd)
        raise ContextError(f"{path!r} is not inside an allowed build root ({', '.join(_build_roots())}).")
    return fd


@contextmanager
def directory_context(path, dockerfile):
    """The context tar of a server directory, in an unnamed temporary file under
    DOCKYARD_DATA_DIR/tmp (a context can be gigabytes), open at its start."""
    folder = Path(settings.DATA_DIR) / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder) as out:
        write_directory_tar(path, out, dockerfile)
        out.seek(0)
        yield out


def write_directory_tar(path, out, dockerfile):
    """Write the context of the server directory `path` to `out` as a tar,
    leaving out what its .dockerignore leaves out. At most
    DOCKYARD_ARCHIVE_MAX_MEMBERS members and DOCKYARD_ARCHIVE_MAX_UNPACKED bytes,
    as for an upload."""
    root = open_directory(path)
    try:
        rules = IgnoreRules(_read_dockerignore(root), check_dockerfile_path(dockerfile))
        with tarfile.open(fileobj=out, mode="w") as tar:
            _add_directory(tar, root, "", rules, _Tally())
    finally:
        os.close(root)


def _read_dockerignore(root):
    """.dockerignore's patterns, read as the SDK reads them: lines stripped,
    blank ones and # comments skipped."""
    try:
        fd = os.open(".dockerignore", _FILE, dir_fd=root)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ContextError(f"The context's .dockerignore could not be read as a plain file ({exc.strerror}).") from exc
    with open(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ContextError("The context's .dockerignore is not a plain file.")
        data = file.read(DOCKERIGNORE_MAX + 1)
    if len(data) > DOCKERIGNORE_MAX:
        raise ContextError(f"The context's .dockerignore is over {DOCKERIGNORE_MAX:,} bytes.")
    lines = [line.strip() for line in data.decode("utf-8", errors="replace").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _add_directory(tar, folder, prefix, rules, tally, depth=0):
    if depth > MAX_DEPTH:
        raise ContextError(f"The context nests directories more than {MAX_DEPTH} deep at {prefix!r}.")
    with os.scandir(folder) as entries:
        names = sorted(entry.name for entry in entries)
    for name in names:
        path = prefix + name
        try:
            found = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            continue  # removed since the listing
        excluded = rules.excludes(path)
        if stat.S_ISDIR(found.st_mode):
            if excluded and not rules.may_keep_below(path):
                continue
            child = _open_in(folder, name, _DIRECTORY, path)
            if child is None:
                continue
            try:
                if not excluded:
                    tally.add(path, 0)
                    tar.addfile(_tar_info(path, tarfile.DIRTYPE, os.fstat(child)))
                _add_directory(tar, child, path + "/", rules, tally, depth + 1)
            finally:
                os.close(child)
        elif excluded:
            continue
        elif stat.S_ISREG(found.st_mode):
            _add_file(tar, folder, name, path, tally)
        elif stat.S_ISLNK(found.st_mode):
            try:
                target = os.readlink(name, dir_fd=folder)
            except FileNotFoundError:
                continue
            except OSError as exc:  # EINVAL: no longer a symlink
                raise _changed(path) from exc
            info = _tar_info(path, tarfile.SYMTYPE, found)
            info.linkname = target
            tally.add(path, 0)
            tar.addfile(info)


def _open_in(folder, name, flags, path):
    """`name` in the open directory `folder`, never through a symlink; None if
    it is gone. A directory or file swapped for anything else fails the build."""
    try:
        return os.open(name, flags, dir_fd=folder)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP (now a symlink), ENOTDIR
        raise _changed(path) from exc


def _add_file(tar, folder, name, path, tally):
    fd = _open_in(folder, name, _FILE, path)
    if fd is None:
        return
    with open(fd, "rb") as data:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise _changed(path)
        info = _tar_info(path, tarfile.REGTYPE, found)
        info.size = found.st_size
        tally.add(path, found.st_size)
        try:
            tar.addfile(info, data)
        except OSError as exc:  # tarfile: "unexpected end of data", the file shrank
            raise _changed(path) from exc


def _tar_info(path, kind, found):
    info = tarfile.TarInfo(path)
    info.type, info.mode = kind, stat.S_IMODE(found.st_mode)
    info.uid, info.gid = found.st_uid, found.st_gid
    info.mtime = min(max(int(found.st_mtime), 0), 8**11 - 1)  # what a ustar header holds
    return info


def _changed(path):
    return ContextError(f"{path!r} in the build directory changed while Dockyard read it; build again once it "
                        "is left alone.")


@contextmanager
def build_arguments(params):
    """Yield the keyword arguments for `EngineStream.build` for a job's parameters."""
    source = params["source"]
    options = {
        "dockerfile": check_dockerfile_path(params.get("dockerfile")) if params.get("dockerfile") else None,
        "tag": (params.get("tags") or [None])[0],
        "buildargs": params.get("build_args") or None,
        "target": params.get("target") or None,
        "nocache": bool(params.get("no_cache")),
        "pull": bool(params.get("pull")),
        "labels": params.get("labels") or None,
        "network_mode": build_network(),
    }
    if source == "dockerfile":
        yield {**options, "dockerfile": "Dockerfile", "fileobj": _dockerfile_tar(params["dockerfile_text"]),
               "custom_context": True}
    elif source == "upload":
        path = stored_archive(params["context_file"])
        kind = params["context_format"]
        if kind == "zip":
            with tempfile.TemporaryFile() as tar:
                _zip_to_tar(path, tar)
                tar.seek(0)
                yield {**options, "fileobj": tar, "custom_context": True}
        else:
            with open(path, "rb") as archive:
                yield {**options, "fileobj": archive, "custom_context": True,
                       "encoding": "gzip" if kind == "tar.gz" else None}
    elif source == "directory":
        with directory_context(params["directory"], options["dockerfile"]) as tar:
            yield {**options, "fileobj": tar, "custom_context": True}
    elif source == "git":
        yield {**options, "path": check_git_url(params["git_url"])}
    else:
        raise ContextError(f"Unknown build source {source!r}.")


def _dockerfile_tar(text):
    data = text.encode("utf-8")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def _zip_to_tar(zip_path, out):
    tally = _Tally()
    try:
        with zipfile.ZipFile(zip_path) as archive, tarfile.open(fileobj=out, mode="w") as tar:
            for member in archive.infolist():
                # addfile copies exactly info.size bytes, whatever the entry's data really
                # holds: the tally bounds what is written even if the header lies.
                tally.add(member.filename, member.file_size)
                info = tarfile.TarInfo(posixpath.normpath(_member_path(member.filename, {})))
                if member.is_dir():
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                    continue
                info.size = member.file_size
                info.mode = (member.external_attr >> 16) & 0o7777 or 0o644
                with archive.open(member) as data:
                    tar.addfile(info, data)
    except zipfile.BadZipFile as exc:
        raise ContextError(f"The uploaded zip archive is damaged ({exc}).") from exc

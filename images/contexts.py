"""Build contexts: what a build job sends the engine, from each kind of source.

A context is made in the worker, from the job's stored parameters, and is
streamed from disk rather than held in memory.
"""

import io
import os
import posixpath
import tarfile
import tempfile
import uuid
import zipfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

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


def save_upload(upload, kind=None):
    """Keep an uploaded archive under DOCKYARD_CONTEXT_DIR, where a rebuild or
    retry finds it again; return its stored name."""
    kind = kind or archive_format(upload.name)
    if upload.size > settings.DOCKYARD_UPLOAD_LIMIT:
        raise ContextError(f"The context is {upload.size:,} bytes; the limit is {settings.DOCKYARD_UPLOAD_LIMIT:,}.")
    folder = Path(settings.DOCKYARD_CONTEXT_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.{kind}"
    with open(folder / name, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return name


def stored_archive(name):
    path = Path(settings.DOCKYARD_CONTEXT_DIR) / Path(name).name
    if not path.is_file():
        raise ContextError("The uploaded archive of this job is no longer on the server.")
    return path


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
    roots = [os.path.realpath(root) for root in settings.DOCKYARD_BUILD_ROOTS]
    if not roots:
        raise ContextError("Builds from server directories are off: DOCKYARD_BUILD_ROOTS names no directory.")
    real = os.path.realpath(path)
    if not any(real == root or real.startswith(root + os.sep) for root in roots):
        raise ContextError(f"{path!r} is not inside an allowed build root ({', '.join(roots)}).")
    if not os.path.isdir(real):
        raise ContextError(f"{path!r} is not a directory.")
    return real


@contextmanager
def build_arguments(params):
    """Yield the keyword arguments for `EngineStream.build` for a job's parameters."""
    source = params["source"]
    options = {
        "dockerfile": params.get("dockerfile") or None,
        "tag": (params.get("tags") or [None])[0],
        "buildargs": params.get("build_args") or None,
        "target": params.get("target") or None,
        "nocache": bool(params.get("no_cache")),
        "pull": bool(params.get("pull")),
        "labels": params.get("labels") or None,
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
        yield {**options, "path": resolve_directory(params["directory"])}
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
    with zipfile.ZipFile(zip_path) as archive, tarfile.open(fileobj=out, mode="w") as tar:
        for member in archive.infolist():
            name = posixpath.normpath(member.filename)
            if name.startswith(("/", "../")) or name == "..":
                raise ContextError(f"The archive member {member.filename!r} points outside the context.")
            info = tarfile.TarInfo(name)
            if member.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            info.size = member.file_size
            info.mode = (member.external_attr >> 16) & 0o7777 or 0o644
            with archive.open(member) as data:
                tar.addfile(info, data)

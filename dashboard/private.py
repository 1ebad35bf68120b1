"""Dockyard's data directory holds what makes anyone an admin (the secret key,
sessions, the encryption key, the Redis password) and, through the engine, root
on the host: only the user Dockyard runs as may read it."""

import os
import stat

# Group and others get nothing on what this process creates.
UMASK = 0o077


def make_private(data_dir):
    """Set the process's umask, and tighten a data directory made before (by an
    older Dockyard, or under a looser umask): the directory, what lies in it and
    the files one level below lose their group and other bits. Deeper lie the
    engine's and Redis' own data, theirs to manage, and out of reach of other
    users once the directories above them are 0700."""
    os.umask(UMASK)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(data_dir)
    for entry in _entries(data_dir):
        _tighten(entry.path)
        if entry.is_dir(follow_symlinks=False):
            for inner in _entries(entry.path):
                if inner.is_file(follow_symlinks=False):
                    _tighten(inner.path)


def _entries(path):
    try:
        with os.scandir(path) as entries:
            return list(entries)
    except (FileNotFoundError, PermissionError):
        return []


def _tighten(path):
    try:
        status = os.lstat(path)
        mode = stat.S_IMODE(status.st_mode)
        # Another user's files (dockerd's, say, when Dockyard is not root) are left to that user.
        if stat.S_ISLNK(status.st_mode) or status.st_uid != os.geteuid() or not mode & 0o077:
            return
        os.chmod(path, mode & 0o700)
    except (FileNotFoundError, PermissionError):
        pass  # removed meanwhile, or not ours to change

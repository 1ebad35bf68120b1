"""What Dockyard asks of the engine for a run: the one container body it creates
(with nothing of the host's in it), and the reading of a container's output.

The body is built here, beside the engine calls, so that no caller can add a
port, a mount, a device, a capability or privileges: the fields that would
carry them are set to nothing, whatever the run asked for.
"""

import base64
import json
import struct

STDOUT, STDERR = "stdout", "stderr"
_STREAMS = {1: STDOUT, 2: STDERR}
_HEADER = struct.Struct(">BxxxL")


def run_body(image, *, command, entrypoint, env, workdir, user, tty, memory, nano_cpus, pids, network, labels,
             log_max_bytes):
    """`POST /containers/create`'s body for a run of `image`."""
    return {
        "Image": image,
        "Cmd": command,
        "Entrypoint": entrypoint,
        "Env": env,
        "WorkingDir": workdir,
        "User": user,
        "Tty": tty,
        # A TTY run keeps its stdin open for the page's terminal; the others get none.
        "OpenStdin": tty, "StdinOnce": False, "AttachStdin": False,
        "Labels": labels,
        "ExposedPorts": {},
        "NetworkDisabled": network == "none",
        "HostConfig": {
            "NetworkMode": network,
            "Memory": memory,
            "MemorySwap": memory,  # no swap: the memory limit is the whole limit
            "NanoCpus": nano_cpus,
            "PidsLimit": pids,
            "Privileged": False,
            "PublishAllPorts": False,
            "PortBindings": {},
            "Binds": [],
            "Mounts": [],
            "Devices": [],
            "CapAdd": [],
            "SecurityOpt": ["no-new-privileges"],
            "AutoRemove": False,  # kept, stopped, for its changes and a commit; the sweep removes it
            # The engine keeps a run's output on the host's disk too: bounded.
            "LogConfig": {"Type": "json-file", "Config": {"max-size": str(log_max_bytes), "max-file": "1"}},
        },
    }


class Demultiplexer:
    """A non-TTY container's output stream (8-byte frame headers: stream, size)
    as (stream name, bytes) pieces, from blocks cut anywhere."""

    def __init__(self):
        self._buffer = b""

    def feed(self, block):
        self._buffer += block
        pieces = []
        while len(self._buffer) >= _HEADER.size:
            kind, size = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) < _HEADER.size + size:
                break
            payload = self._buffer[_HEADER.size:_HEADER.size + size]
            self._buffer = self._buffer[_HEADER.size + size:]
            pieces.append((_STREAMS.get(kind, STDOUT), payload))
        return pieces


def path_stat(header):
    """The engine's `X-Docker-Container-Path-Stat` header (base64 JSON: name,
    size, mode, mtime, linkTarget) as a dict."""
    return json.loads(base64.b64decode(header))

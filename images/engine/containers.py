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
_READ_SIZE = 256 * 1024


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
    as (stream name, bytes) pieces, from blocks cut anywhere. A program writing
    a line at a time makes a frame a line; the frames of one stream that follow
    each other in a block come out as one piece, so that a block costs a few
    pieces, not thousands."""

    def __init__(self):
        self._buffer = b""

    def feed(self, block):
        buffer = self._buffer + block if self._buffer else block
        pieces, at = [], 0  # read by offset: slicing the rest off at each frame copied it at each frame
        while len(buffer) - at >= _HEADER.size:
            kind, size = _HEADER.unpack_from(buffer, at)
            end = at + _HEADER.size + size
            if len(buffer) < end:
                break
            name = _STREAMS.get(kind, STDOUT)
            if pieces and pieces[-1][0] == name:
                pieces[-1][1].append(buffer[at + _HEADER.size:end])
            else:
                pieces.append((name, [buffer[at + _HEADER.size:end]]))
            at = end
        self._buffer = buffer[at:]
        return [(name, b"".join(payloads)) for name, payloads in pieces]


class AttachedOutput:
    """A container's output on a socket attached to it (Engine.attach_output),
    as (stream name, bytes) pieces, all "stdout" for a TTY, until the engine
    closes it at the container's end. `received` is what came with the
    engine's answer to the attach."""

    def __init__(self, sock, received, tty):
        self._sock, self._received, self._tty = sock, received, tty

    def __iter__(self):
        demultiplexer = None if self._tty else Demultiplexer()
        block = self._received
        try:
            while True:
                if block:
                    if demultiplexer is None:
                        yield STDOUT, block
                    else:
                        yield from demultiplexer.feed(block)
                block = self._sock.recv(_READ_SIZE)
                if not block:  # the engine closes it when the container ends
                    return
        finally:
            self.close()

    def close(self):
        self._sock.close()


def path_stat(header):
    """The engine's `X-Docker-Container-Path-Stat` header (base64 JSON: name,
    size, mode, mtime, linkTarget) as a dict."""
    return json.loads(base64.b64decode(header))

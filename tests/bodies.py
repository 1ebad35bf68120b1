"""Large request and response bodies against the live server, and the peak
memory of Dockyard's processes meanwhile (tests/test_large_bodies.py and
`make bench`)."""

import hashlib
import http.client
import json
import os
import re
import tarfile
import time
from pathlib import Path

import psutil

BOUNDARY = "dockyard-large-body-boundary"
CHUNK = 1024 * 1024


class _RandomBytes:
    """`size` random bytes for tarfile to copy, hashed as they are read."""

    def __init__(self, size):
        self.left = size
        self.digest = hashlib.sha256()

    def read(self, size):
        data = os.urandom(min(size, self.left))
        self.left -= len(data)
        self.digest.update(data)
        return data


def context_body(path, size, dockerfile, fields):
    """Write a multipart/form-data body to `path`: `fields`, then a build context
    (tar) named `context` holding the Dockerfile and `size` random bytes as
    `blob`. Return the path and the blob's sha256."""
    blob = _RandomBytes(size)
    with open(path, "wb") as out:
        for name, value in fields.items():
            out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="context"; filename="context.tar"\r\n'
                  f"Content-Type: application/x-tar\r\n\r\n".encode())
        with tarfile.open(fileobj=out, mode="w", copybufsize=CHUNK) as tar:
            data = dockerfile.encode()
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(data)
            tar.addfile(info, _Bytes(data))
            info = tarfile.TarInfo("blob")
            info.size = size
            tar.addfile(info, blob)
        out.write(f"\r\n--{BOUNDARY}--\r\n".encode())
    return Path(path), blob.digest.hexdigest()


class _Bytes:
    def __init__(self, data):
        self.data = data

    def read(self, size):
        data, self.data = self.data[:size], self.data[size:]
        return data


def _connection(server):
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=600, blocksize=CHUNK)


def post_file(server, url, path, headers):
    """POST the multipart body in `path` (with its Content-Length); return the
    status and the response body."""
    connection = _connection(server)
    try:
        with open(path, "rb") as body:
            connection.request("POST", url, body=body, headers={
                **headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Content-Length": str(os.path.getsize(path)),
            })
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def json_id(body):
    return json.loads(body)["id"]


def get(server, url, headers, pause=0.0, digest=True):
    """GET `url`, wait `pause` seconds once the headers are in, then read the
    body through; return the status, its size and its sha256 (if `digest`)."""
    connection = _connection(server)
    try:
        connection.request("GET", url, headers=headers)
        response = connection.getresponse()
        time.sleep(pause)
        hashed, size = hashlib.sha256() if digest else None, 0
        while chunk := response.read(CHUNK):
            size += len(chunk)
            if hashed:
                hashed.update(chunk)
        return response.status, size, hashed and hashed.hexdigest()
    finally:
        connection.close()


def _tree(process):
    root = psutil.Process(process.pid)
    return [root, *root.children(recursive=True)]


def _kib(pid, field):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", status)[1])


class PeakMemory:
    """The peak resident memory of each process of the given live processes
    (tests/live.py Server and Worker, with their children) between enter and
    exit, against its resident memory at enter. The kernel keeps the peak
    (VmHWM); writing 5 to clear_refs starts it again from the current size."""

    def __init__(self, *owners):
        self.owners = owners

    def __enter__(self):
        self.rest = {}
        for owner in self.owners:
            for proc in _tree(owner.process):
                Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
                self.rest[proc.pid] = (f"{type(owner).__name__.lower()} {proc.pid} {proc.name()}",
                                       _kib(proc.pid, "VmRSS"))
        return self

    def __exit__(self, *exc):
        self.peaks = {}
        for owner in self.owners:
            for proc in _tree(owner.process):
                name, rest = self.rest.get(proc.pid, (f"{type(owner).__name__.lower()} {proc.pid} {proc.name()} (new)", 0))
                self.peaks[name] = (rest / 1024, _kib(proc.pid, "VmHWM") / 1024)

    def report(self):
        return ", ".join(f"{name}: {rest:.0f} -> {peak:.0f} MB" for name, (rest, peak) in self.peaks.items())

    def highest(self):
        return max(peak for _, peak in self.peaks.values())

    def assert_growth_below(self, limit):
        grown = {name: peak - rest for name, (rest, peak) in self.peaks.items()}
        assert max(grown.values()) < limit / 2**20, f"peak memory over {limit / 2**20:.0f} MB growth: {self.report()}"


def _written(process):
    """Bytes the live process's tree has handed to write() so far (wchar):
    files and sockets alike, whether or not they reached the disk yet."""
    return sum(_io(proc.pid, "wchar") for proc in _tree(process))


def _io(pid, field):
    return int(re.search(rf"{field}: (\d+)", Path(f"/proc/{pid}/io").read_text())[1])


class Written:
    """What a live process (tests/live.py Server) writes between enter and exit."""

    def __init__(self, owner):
        self.owner = owner

    def __enter__(self):
        self.start = _written(self.owner.process)
        return self

    def __exit__(self, *exc):
        self.bytes = _written(self.owner.process) - self.start

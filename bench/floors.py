"""The floors the bench puts Dockyard against: the least the engine itself
does for the same answer, with nothing parsed (http.client over AF_UNIX on
the engine's socket, one connection a run, as Dockyard's client keeps one).
"""

import gzip
import http.client
import socket
from urllib.parse import urlsplit

from django.conf import settings

from images.engine import get_engine

CHUNK = 1 << 16


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


def engine_connection():
    address = settings.DOCKYARD_ENGINES["default"]
    return _UnixConnection(urlsplit(address).path if address.startswith("unix://") else "/var/run/docker.sock")


def read_through(response, what):
    assert response.status == 200, (what, response.status, response.read()[:500])
    size = 0
    while chunk := response.read(CHUNK):  # to the end, so the connection can take the next request
        size += len(chunk)
    return size


def engine_call(method, path, body=None, headers=None):
    """One call with a body (a build, a pull), its answer read through."""
    connection = engine_connection()
    try:
        connection.request(method, f"/v{get_engine().api.api_version}{path}", body=body, headers=headers or {})
        read_through(connection.getresponse(), path)
    finally:
        connection.close()


def engine_calls(*paths):
    """A function that GETs each of `paths` (API paths as /images/json) from
    the engine, in order, reading every body through."""
    version = f"/v{get_engine().api.api_version}"

    def call():
        connection = engine_connection()
        try:
            for path in paths:
                connection.request("GET", version + path)
                read_through(connection.getresponse(), path)
        finally:
            connection.close()
    return call


def layer_records(image_id, skip=0):
    """The floor of indexing from the engine's records: the inspect and info
    calls Dockyard makes for them, then each layer's tar-split record (but the
    first `skip`) decompressed, unparsed (see images/engine/layer_records.py)."""
    from images.engine import layer_records as records

    engine = get_engine()
    diff_ids = engine.inspect_image(image_id)["RootFS"]["Layers"]
    info = engine.api.info()
    paths = records.tar_split_files(info["DockerRootDir"], info["Driver"], diff_ids)
    assert paths, "the engine's layer records are not readable here"
    calls = engine_calls(f"/images/{image_id}/json", "/info")

    def read():
        calls()
        for path in paths[skip:]:
            with gzip.open(path, "rb") as record:
                while record.read(CHUNK):
                    pass
    return read

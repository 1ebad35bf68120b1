"""The only module that talks to the Docker SDK.

Views, tasks and consumers ask `get_engine()` for an `Engine` and call its
methods; engine failures come back as the exceptions below, which name the
engine that was tried, never as SDK or HTTP exceptions.
"""

import json
import re
import socket
import threading
import time
from contextlib import contextmanager

import docker
import docker.auth
import docker.tls
import docker.utils.build
import requests
import urllib3
from django.conf import settings
from django.core.cache import cache

from images.engine import containers, hijack, image_configs, layer_records
from images.engine.output import engine_messages
from images.monitoring import metrics


class EngineError(Exception):
    """The engine answered, but refused or failed the request."""


class EngineUnavailable(EngineError):
    def __init__(self, address, reason):
        self.address = address
        self.reason = reason
        super().__init__(f"The Docker engine at {address} did not answer: {reason}")


class ImageNotFound(EngineError):
    def __init__(self, reference, reason=""):
        self.reference = reference
        self.reason = reason
        super().__init__(f"No image {reference!r} on this engine. {reason}".strip())


@contextmanager
def _engine_errors(engine, reference=None, call="other"):
    """Engine failures as Dockyard's errors; and every call timed (to its answer,
    not to the end of a stream) for /metrics."""
    started = time.perf_counter()
    try:
        yield
    except docker.errors.NotFound as exc:
        if reference is None:
            raise EngineError(_explanation(exc)) from exc
        raise ImageNotFound(reference) from exc
    except docker.errors.APIError as exc:
        raise EngineError(_explanation(exc)) from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException,
            urllib3.exceptions.HTTPError, OSError) as exc:
        raise EngineUnavailable(engine.address, _reason(exc)) from exc
    finally:
        metrics.ENGINE_CALL_SECONDS.labels(engine.name, call).observe(time.perf_counter() - started)


def _explanation(exc):
    return exc.explanation or str(exc)


def _reason(exc):
    # requests wraps the socket error several levels deep; the innermost
    # message ("Connection refused", "No such file or directory") is the useful one.
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    text = str(exc)
    return text.split("] ", 1)[-1] if text.startswith("[Errno") else text


# What the engine's build-cache calls take, checked here as well as where people type them.
GO_DURATION = re.compile(r"(?:[0-9]{1,9}(?:h|m|s))+")
BUILD_CACHE_ID = re.compile(r"[a-z0-9]{1,64}")


class Engine:
    """One Docker engine, reached through one lazily created client."""

    def __init__(self, name, address, timeout, tls_directory=None):
        self.name = name
        self.address = address
        self.timeout = timeout
        self.tls_directory = tls_directory
        self._client = None
        self._lock = threading.Lock()
        self._store = None

    def __repr__(self):
        return f"<Engine {self.name} at {self.address}>"

    @property
    def api(self):
        """The SDK's low-level client. Its constructor asks the engine for its API
        version, so an engine that is down surfaces here."""
        with self._lock:
            if self._client is None:
                with _engine_errors(self, call="connect"):
                    self._client = docker.DockerClient(timeout=self.timeout, **self.connection_options())
            return self._client.api

    def connection_options(self):
        """How the SDK reaches this engine: its address, TLS files for tcp://,
        the `ssh` command for ssh:// (no paramiko)."""
        options = {"base_url": self.address}
        if self.tls_directory:
            directory = self.tls_directory
            options["tls"] = docker.tls.TLSConfig(client_cert=(f"{directory}/cert.pem", f"{directory}/key.pem"),
                                                  ca_cert=f"{directory}/ca.pem", verify=True)
        if self.address.startswith("ssh://"):
            options["use_ssh_client"] = True
        return options

    def ping(self):
        with _engine_errors(self, call="ping"):
            return self.api.ping()

    def list_images(self, intermediate=False, repository=None):
        """Every image with its tags, digests, size and creation time, in one call
        (with `intermediate`, also the untagged parents `docker images` hides;
        with `repository`, only that repository's, as `docker images REPO`).

        `client.images.list()` would inspect each image in turn; the low-level
        list carries what the image list needs."""
        with _engine_errors(self, call="list_images"):
            return self.api.images(name=repository, all=intermediate)

    def dangling_image_ids(self):
        """The ids `docker images -f dangling=true` lists: images without a tag that
        no image is built on (those known only by a registry digest too)."""
        with _engine_errors(self, call="list_images"):
            return self.api.images(quiet=True, filters={"dangling": True})

    # Runs: containers Dockyard starts (images.lifecycle.runs decides what they get) --------

    def create_run_container(self, image, name, **run):
        """Create a run's container named `name` (containers.run_body: no port,
        mount, device, added capability or privilege); return its id."""
        with _engine_errors(self, image, call="create_container"):
            body = containers.run_body(image, **run)
            created = self.api._post_json(self.api._url("/containers/create"), data=body, params={"name": name})
            return self.api._result(created, True)["Id"]

    def start_container(self, container_id):
        with _engine_errors(self, call="start_container"):
            self.api.start(container_id)

    def inspect_container(self, container_id):
        with _engine_errors(self, call="inspect_container"):
            return self.api.inspect_container(container_id)

    def stop_container(self, container_id, grace=10):
        """SIGTERM, then SIGKILL after `grace` seconds (`docker stop -t`)."""
        with _engine_errors(self, call="stop_container"):
            self.api.stop(container_id, timeout=grace)

    def remove_container(self, container_id):
        with _engine_errors(self, call="remove_container"):
            self.api.remove_container(container_id, force=True, v=True)

    def containers_labelled(self, label):
        """Every container, stopped ones too, carrying `label` (key=value)."""
        with _engine_errors(self, call="list_containers"):
            return self.api.containers(all=True, filters={"label": label})

    def container_changes(self, container_id):
        """`docker diff`: [{"Path", "Kind": 0 changed, 1 added, 2 deleted}]."""
        with _engine_errors(self, call="container_changes"):
            return self.api.diff(container_id) or []

    def container_path_stat(self, container_id, path):
        """A path's size, mode and link in the container, from a HEAD on its
        archive: the engine answers with the stat alone, no content."""
        with _engine_errors(self, call="container_path_stat"):
            response = self.api.head(self.api._url("/containers/{0}/archive", container_id), params={"path": path})
            self.api._raise_for_status(response)
            return containers.path_stat(response.headers["X-Docker-Container-Path-Stat"])

    def commit_container(self, container_id, message, author, changes, config):
        """`docker commit` without a name (the caller tags it), with `config` as
        the new image's configuration before `changes`; return the image id."""
        with _engine_errors(self, call="commit_container"):
            return self.api.commit(container_id, message=message, author=author, changes=changes, conf=config)["Id"]

    # Terminals (images.engine.terminals reads and writes them) ---------------------------

    def attach_socket(self, container_id, stdin):
        """A TTY container's stream, hijacked (`POST /containers/{id}/attach`,
        `Upgrade: tcp`): its output from now on, and its stdin if `stdin`.
        Returns (socket, bytes already read)."""
        flags = f"stream=1&stdout=1&stderr=1&stdin={1 if stdin else 0}"
        return self._upgraded(f"/containers/{container_id}/attach?{flags}", call="attach_container")

    def attach_output(self, container_id, tty):
        """A container's output, hijacked (`POST /containers/{id}/attach`,
        stdout and stderr, no stdin) before it starts, as `docker run` reads
        it: the engine copies it from the container as it comes, where
        following its logs re-reads each line from the log file (1.8× slower
        for a chatty run, measured here). Returns a containers.AttachedOutput."""
        sock, received = self._upgraded(f"/containers/{container_id}/attach?stream=1&stdout=1&stderr=1",
                                        call="attach_container", what="the run's output")
        return containers.AttachedOutput(sock, received, tty)

    def create_shell(self, container_id, command, env):
        """An exec of `command` on a TTY with stdin, not yet started; its id."""
        with _engine_errors(self, call="create_exec"):
            return self.api.exec_create(container_id, command, stdin=True, tty=True, environment=env)["Id"]

    def run_quietly(self, container_id, command):
        """Run `command` in the container to its end, its output unread."""
        with _engine_errors(self, call="exec"):
            exec_id = self.api.exec_create(container_id, command, stdout=False, stderr=False)["Id"]
            self.api.exec_start(exec_id)

    def start_shell_socket(self, exec_id):
        """Start an exec made by create_shell, hijacked (`POST /exec/{id}/start`)."""
        return self._upgraded(f"/exec/{exec_id}/start", call="start_exec",
                              body=json.dumps({"Detach": False, "Tty": True}).encode())

    def resize_container(self, container_id, rows, cols):
        with _engine_errors(self, call="resize_container"):
            self.api.resize(container_id, height=rows, width=cols)

    def resize_exec(self, exec_id, rows, cols):
        with _engine_errors(self, call="resize_exec"):
            self.api.exec_resize(exec_id, height=rows, width=cols)

    def _upgraded(self, path, call, body=b"", headers=(("Content-Type", "application/json"),), protocol="tcp",
                  what="the terminal"):
        """`POST path` switched to `protocol` on a socket of its own: (the socket, what
        came after the engine's 101). It stays open, idle for as long as its user is."""
        with _engine_errors(self, call=call):
            sock = hijack.connect(self.address, self.timeout)
            try:
                received = hijack.upgrade(sock, f"/v{self.api.api_version}{path}", list(headers), protocol,
                                          body=body)
            except hijack.UpgradeRefused as exc:
                sock.close()
                raise EngineError(f"The engine refused {what}: {exc}") from exc
            except BaseException:
                sock.close()
                raise
        sock.settimeout(None)
        return sock, received

    def list_containers(self):
        """Every container, stopped ones too: an image a stopped container was
        made from is still in use."""
        with _engine_errors(self, call="list_containers"):
            return self.api.containers(all=True)

    def inspect_image(self, reference):
        with _engine_errors(self, reference, call="inspect_image"):
            return self.api.inspect_image(reference)

    def registry_digest(self, reference, auth_config=None):
        """The digest the registry now gives `reference`'s manifest (a manifest
        list's own digest for a multi-platform image), asked through the engine's
        distribution endpoint (`GET /distribution/{name}/json`): one HEAD on the
        manifest by the engine, with the engine's resolver and the login given."""
        with _engine_errors(self, call="registry_digest"):  # a 404 is the registry's, not a missing image
            return self.api.inspect_distribution(reference, auth_config=auth_config)["Descriptor"]["digest"]

    def image_history(self, image_id):
        with _engine_errors(self, image_id, call="image_history"):
            return self.api.history(image_id)

    def layer_tar_records(self, diff_ids):
        """The engine's own record of each of these layers' tar headers (see
        `layer_records`), or None: then only the save stream has them."""
        store = self._local_store()
        return layer_records.tar_split_files(*store, diff_ids) if store else None

    def image_config(self, image_id, save_stream=True):
        """The image's config, whose history marks the steps that made no layer
        (`empty_layer`): from the engine's own store where it is on this host,
        else from a save stream read up to it (see `image_configs`; not without
        `save_stream`, unless read before); None if neither gives it."""
        store = self._local_store()
        config = image_configs.from_data_root(*store, image_id) if store else None
        if config is not None:
            return config
        # An id is the hash of its config, so what was read once holds on every engine, for ever:
        # a remote engine's save stream is read once per image, not once per page view.
        key = f"dockyard:image-config:{image_id}"
        config = cache.get(key)
        if config is None and save_stream:
            config = image_configs.from_save_stream(self.save_images([image_id]), image_id)
            if config is not None:
                cache.set(key, config, timeout=30 * 24 * 3600)
        return config

    def _local_store(self):
        """(data root, storage driver) of an engine on this host, or None. Kept
        once known: whatever is read there is checked against the ids asked for."""
        if self._store is None and self.address.startswith("unix://"):
            # The paths an engine on another host names are not this host's.
            with _engine_errors(self, call="info"):
                info = self.api.info()
            if info.get("DockerRootDir"):
                self._store = (info["DockerRootDir"], info.get("Driver"))
        return self._store

    def tag_image(self, image_id, repository, tag):
        with _engine_errors(self, image_id, call="tag_image"):
            self.api.tag(image_id, repository, tag, force=True)

    def remove_image(self, reference, force=False):
        """`docker rmi`: a tag reference untags, an id removes the image. Returns
        the engine's list of what was untagged and deleted."""
        with _engine_errors(self, reference, call="remove_image"):
            return self.api.remove_image(reference, force=force)

    def prune_images(self, all_unused=False, label=None):
        """Remove dangling images, or every image no container uses; only those
        with `label` (key or key=value) if given."""
        filters = {"dangling": not all_unused}
        if label:
            filters["label"] = [label]
        with _engine_errors(self, call="prune_images"):
            return self.api.prune_images(filters=filters)

    def build_cache(self):
        """The BuildKit build cache: the `BuildCache` records of `GET /system/df`
        (ID, Type, Description, Size, Shared, InUse, CreatedAt, LastUsedAt,
        UsageCount, Parent). API 1.41 ignores `?type=build-cache` (1.42 added
        it) and sizes every image, container and volume too, so only the
        Build cache page asks (and the image list, after many new images)."""
        return self.disk_usage().get("BuildCache") or []

    # The engine computes one disk usage at a time and refuses a second asked meanwhile.
    _DF_BUSY = "a disk usage operation is already running"
    DF_WAIT_SECONDS = 30

    def disk_usage(self):
        """`GET /system/df` (`docker system df -v`). While another one runs (another
        page, another Dockyard, a terminal on the same engine) the engine refuses
        with "already running": it is asked again until that one is done."""
        deadline = time.monotonic() + self.DF_WAIT_SECONDS
        while True:
            try:
                with _engine_errors(self, call="disk_usage"):
                    return self.api.df()
            except EngineError as exc:
                if self._DF_BUSY not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def prune_build_cache(self, keep_storage=None, all_records=False, until=None, record_id=None):
        """`POST /build/prune`: remove unused build cache, keeping `keep_storage`
        bytes if given; with `all_records` shared and internal records too; only
        records unused for `until` (a Go duration, "24h") or the one `record_id`
        if given. Returns the engine's answer: CachesDeleted (ids) and
        SpaceReclaimed (bytes)."""
        filters = {}
        if keep_storage is not None and (type(keep_storage) is not int or keep_storage < 0):
            raise ValueError(f"keep_storage is a number of bytes, not {keep_storage!r}")
        if until is not None:
            if not isinstance(until, str) or not GO_DURATION.fullmatch(until):
                raise ValueError(f"until is a duration such as 24h or 90m, not {until!r}")
            filters["until"] = until
        if record_id is not None:
            # BuildKit matches an id filter as a regular expression: only a whole id, which is letters and digits.
            if not isinstance(record_id, str) or not BUILD_CACHE_ID.fullmatch(record_id):
                raise ValueError(f"not a build-cache record id: {record_id!r}")
            filters["id"] = f"^{record_id}$"
        with _engine_errors(self, call="prune_build_cache"):
            return self.api.prune_builds(filters=filters or None, keep_storage=keep_storage,
                                         all=bool(all_records))

    def save_images(self, references):
        """`docker save` of one or more references, as a stream of tar chunks."""
        with _engine_errors(self, references[0], call="save_images"):
            # The SDK's get_image takes one name; several need the endpoint itself.
            response = self.api.get(
                f"{self.api.base_url}/v{self.api.api_version}/images/get",
                params={"names": references}, stream=True,
            )
            self.api._raise_for_status(response)
        return _chunks(response, self.address)

    def login(self, registry, username, password):
        """Check credentials against a registry, as `docker login` does."""
        with _engine_errors(self, call="login"):
            return self.api.login(username=username, password=password, registry=registry, reauth=True)

    def image_events(self, since=None):
        """The engine's image events as they happen (a blocking generator); with
        `since` ("seconds.nanoseconds" on the engine's clock), first those the
        engine still holds from then on."""
        with _engine_errors(self, call="image_events"):
            stream = self.api.events(decode=True, filters={"type": "image"}, since=since)
            yield from stream

    def open_session(self, session_id, name, shared_key, methods):
        """Attach a BuildKit session: `POST /session` upgraded to h2c, offering
        the gRPC `methods` (paths). Return the socket, on which the engine is now
        the HTTP/2 client, and the bytes that came with the engine's answer."""
        headers = [("X-Docker-Expose-Session-Uuid", session_id), ("X-Docker-Expose-Session-Name", name),
                   ("X-Docker-Expose-Session-Sharedkey", shared_key)]
        headers += [("X-Docker-Expose-Session-Grpc-Method", method) for method in methods]
        return self._upgraded("/session", call="open_session", headers=headers, protocol="h2c",
                              what="a BuildKit session")

    def stream(self):
        return EngineStream(self)

    def buildkit_support(self):
        """Whether this engine builds with BuildKit through `POST /build?version=2`,
        and if not, why: it needs API 1.39 (Docker 18.09) and Linux, and an engine
        whose config sets `"features": {"buildkit": false}` says `Builder-Version: 1`
        on /_ping. Returns (bool, reason)."""
        with _engine_errors(self, call="ping"):
            response = self.api._get(self.api._url("/_ping"))
            self.api._raise_for_status(response)
        version = tuple(int(part) for part in response.headers.get("Api-Version", "0.0").split(".")[:2])
        if version < (1, 39):
            return False, f"this engine speaks API {'.'.join(map(str, version))}; BuildKit needs 1.39 or later"
        if response.headers.get("Ostype", "linux").lower() != "linux":
            return False, "BuildKit builds through the Engine API need a Linux engine"
        if response.headers.get("Builder-Version") == "1":
            return False, "this engine's configuration turns BuildKit off (features.buildkit = false)"
        return True, ""


_engines = {}
_engines_lock = threading.Lock()


class UnknownEngine(LookupError):
    def __init__(self, name):
        self.name = name
        super().__init__(f"Dockyard manages no engine named {name!r} (DOCKYARD_ENGINES names "
                         f"{', '.join(settings.DOCKYARD_ENGINES)}).")


def get_engine(name=None):
    """The `Engine` for a configured engine name (by default the one the code
    runs for: the request's or the job's), shared within the process."""
    from images import engines

    name = name or engines.active()
    if name not in settings.DOCKYARD_ENGINES:
        raise UnknownEngine(name)
    address = settings.DOCKYARD_ENGINES[name]
    tls_directory = settings.DOCKYARD_ENGINE_TLS.get(name)
    with _engines_lock:
        engine = _engines.get(name)
        if engine is None or engine.address != address or engine.tls_directory != tls_directory:
            engine = Engine(name, address, settings.DOCKYARD_ENGINE_TIMEOUT, tls_directory)
            _engines[name] = engine
        return engine


class StreamClosed(EngineError):
    """The stream was closed on purpose (a cancel) before the engine finished."""


class EngineStream:
    """A long engine call (build, pull) whose connection another thread may close.

    Closing the connection is how the engine is told to stop: the classic
    builder cancels the build and removes its intermediate container. A fresh
    low-level client per stream lets a response hook hand over the response,
    and with it the socket, without touching the SDK's internals elsewhere."""

    def __init__(self, engine):
        self.engine = engine
        with _engine_errors(engine, call="connect"):
            self.api = _StreamAPI(version=engine.api.api_version, timeout=None, **engine.connection_options())
        self.api.hooks["response"].append(self._remember)
        self._response = None
        self.closed = False
        self._close_callbacks = []

    def _remember(self, response, *args, **kwargs):
        self._response = response

    def on_close(self, callback):
        """Call `callback()` when the stream is closed (a cancel): for a run, whose
        container must be stopped rather than its output cut off."""
        self._close_callbacks.append(callback)

    def close(self):
        self.closed = True
        sock = _socket_of(self._response)
        if sock is not None:
            try:
                # shutdown, unlike close, wakes the thread blocked reading it.
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for callback in self._close_callbacks:
            callback()

    @contextmanager
    def _closable(self, reference=None, call="messages"):
        """An engine call `close` may stop: whatever it fails with once closed,
        or a clean end after a close (a shut-down socket may read as one), is
        StreamClosed."""
        if self.closed:
            raise StreamClosed("Cancelled before the engine was asked.")
        with _engine_errors(self.engine, reference, call=call):
            try:
                yield
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                if self.closed:
                    raise StreamClosed("The stream was closed before the engine finished.") from exc
                raise
        if self.closed:
            raise StreamClosed("The stream was closed before the engine finished.")

    def messages(self, start, decoded=False):
        """Run `start(api)` (which returns the SDK's raw chunk generator, or its
        decoded messages) and yield the engine's JSON messages as dicts."""
        with self._closable():
            stream = start(self.api)
            if not decoded:
                stream = engine_messages(self._raw_chunks(stream))
            yield from stream

    def _raw_chunks(self, sdk_chunks):
        """The response body in blocks of whatever has arrived. The SDK reads
        one HTTP chunk at a time, and the engine writes one per output line, so
        a chatty build costs two reads a line; read1 takes all that is there."""
        raw = getattr(self._response, "raw", None)
        if raw is None or not getattr(raw, "chunked", False):
            yield from sdk_chunks  # an error answered at once, not a stream
            return
        while True:
            block = raw.read1(64 * 1024)
            if not block:
                return
            yield block

    def build(self, registry_config=None, **options):
        """A classic build; `registry_config` ({address: auth_config}) are the
        logins it may pull its base images with (sent as X-Registry-Config)."""
        def start(api):
            api.registry_config = registry_config
            return api.build(decode=False, rm=True, forcerm=True, **options)

        return self.messages(start)

    def build_buildkit(self, fileobj=None, session=None, dockerfile=None, tags=(), buildargs=None, labels=None,
                       target=None, nocache=False, pull=False, network_mode=None, remote=None, encoding=None):
        """A BuildKit build, `POST /build?version=2`: the context tar from
        `fileobj` is the body (`encoding` "gzip" for a compressed one), or the
        engine clones the git URL `remote` itself. `session` is an attached
        BuildSession's id; every tag in `tags` names the image. The messages
        carry the progress trace (`moby.buildkit.trace`, see buildkit/trace.py)
        and end with `moby.image.id`."""
        params = [("version", "2"), ("dockerfile", dockerfile), ("target", target), ("session", session),
                  ("remote", remote), ("nocache", "1" if nocache else None), ("pull", "1" if pull else None),
                  ("networkmode", network_mode), ("rm", "1"), ("forcerm", "1"),
                  ("buildargs", json.dumps(buildargs) if buildargs else None),
                  ("labels", json.dumps(labels) if labels else None)]
        params += [("t", tag) for tag in tags]
        headers = {"Content-Type": "application/tar"}
        if encoding:
            headers["Content-Encoding"] = encoding

        def start(api):
            response = api._post(api._url("/build"), params=[(k, v) for k, v in params if v is not None],
                                 data=fileobj, stream=True, headers=headers)
            api._raise_for_status(response)
            return api._stream_helper(response, decode=False)

        return self.messages(start)

    def pull(self, repository, tag, auth_config=None):
        return self.messages(lambda api: api.pull(repository, tag=tag, stream=True, decode=False,
                                                  auth_config=auth_config))

    def push(self, repository, tag, auth_config=None):
        return self.messages(lambda api: api.push(repository, tag=tag, stream=True, decode=False,
                                                  auth_config=auth_config))

    def save(self, reference, names=None):
        """`docker save` of one image (`GET /images/{name}/get`), as blocks of its
        tar as they arrive; closing the stream stops the engine sending. With
        `names` (its tags, or its id), `GET /images/get?names=…`: the archive
        names the image by each, so that a load gives every tag back."""
        with self._closable(reference, call="save_stream"):
            if names:
                response = self.api._get(self.api._url("/images/get"), params={"names": list(names)}, stream=True)
                self.api._raise_for_status(response)
            else:
                self.api.get_image(reference)
            response = self._response
            try:
                # A megabyte a read: the engine writes 16 kB chunks, and a
                # Python call per chunk costs a third of the reading.
                while block := response.raw.read(1 << 20):
                    if self.closed:  # closed before the engine answered: its socket was not there to shut
                        raise StreamClosed("The stream was closed before the engine finished.")
                    yield block
            finally:
                response.close()

    def load(self, fileobj):
        """`docker load` of a tar, streamed from the open file. Its output is a
        few ASCII lines, so the SDK's own decoding is safe here."""
        return self.messages(lambda api: api.load_image(fileobj), decoded=True)


class _StreamAPI(docker.APIClient):
    """The SDK's client, whose builds send the logins Dockyard chose as
    X-Registry-Config: the SDK fills that header only from its own config file."""

    registry_config = None

    def _set_auth_headers(self, headers):
        if self.registry_config:
            headers["X-Registry-Config"] = docker.auth.encode_header(self.registry_config)
        else:
            super()._set_auth_headers(headers)


class IgnoreRules:
    """Which paths of a build context `.dockerignore` leaves out, decided as
    `docker build` decides (patterns, `!` exceptions, `**`), with the SDK's copy
    of the engine's matcher. The Dockerfile and .dockerignore are always sent,
    as the CLI sends them; the engine drops them afterwards if they are ignored."""

    def __init__(self, patterns, dockerfile):
        self._matcher = docker.utils.build.PatternMatcher([*patterns, f"!{dockerfile}"])

    def excludes(self, path):
        """Whether the context path (relative, with "/") is left out."""
        return self._matcher.matches(path)

    def may_keep_below(self, directory):
        """Whether an exception may keep something inside an excluded directory,
        so that it must be walked all the same (as the SDK's walk does)."""
        return any(pattern.exclusion and pattern.cleaned_pattern.startswith(directory)
                   for pattern in self._matcher.patterns)


def _chunks(response, address):
    try:
        yield from response.iter_content(chunk_size=1024 * 1024)
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise EngineUnavailable(address, _reason(exc)) from exc
    finally:
        response.close()


def _socket_of(response):
    try:
        return response.raw._fp.fp.raw._sock
    except AttributeError:
        return None

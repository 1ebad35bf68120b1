"""The only module that talks to the Docker SDK.

Views, tasks and consumers ask `get_engine()` for an `Engine` and call its
methods; engine failures come back as the exceptions below, which name the
engine that was tried, never as SDK or HTTP exceptions.
"""

import threading
from contextlib import contextmanager

import docker
import requests
from django.conf import settings


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
def _engine_errors(address, reference=None):
    try:
        yield
    except docker.errors.NotFound as exc:
        if reference is None:
            raise EngineError(_explanation(exc)) from exc
        raise ImageNotFound(reference) from exc
    except docker.errors.APIError as exc:
        raise EngineError(_explanation(exc)) from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise EngineUnavailable(address, _reason(exc)) from exc


def _explanation(exc):
    return exc.explanation or str(exc)


def _reason(exc):
    # requests wraps the socket error several levels deep; the innermost
    # message ("Connection refused", "No such file or directory") is the useful one.
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    text = str(exc)
    return text.split("] ", 1)[-1] if text.startswith("[Errno") else text


class Engine:
    """One Docker engine, reached through one lazily created client."""

    def __init__(self, name, address, timeout):
        self.name = name
        self.address = address
        self.timeout = timeout
        self._client = None
        self._lock = threading.Lock()

    def __repr__(self):
        return f"<Engine {self.name} at {self.address}>"

    @property
    def api(self):
        """The SDK's low-level client. Its constructor asks the engine for its API
        version, so an engine that is down surfaces here."""
        with self._lock:
            if self._client is None:
                with _engine_errors(self.address):
                    self._client = docker.DockerClient(base_url=self.address, timeout=self.timeout)
            return self._client.api

    def ping(self):
        with _engine_errors(self.address):
            return self.api.ping()

    def list_images(self):
        """Every image with its tags, digests, size and creation time, in one call.

        `client.images.list()` would inspect each image in turn; the low-level
        list carries what the image list needs."""
        with _engine_errors(self.address):
            return self.api.images()

    def list_containers(self):
        """Every container, stopped ones too: an image a stopped container was
        made from is still in use."""
        with _engine_errors(self.address):
            return self.api.containers(all=True)

    def inspect_image(self, reference):
        with _engine_errors(self.address, reference):
            return self.api.inspect_image(reference)

    def image_history(self, image_id):
        with _engine_errors(self.address, image_id):
            return self.api.history(image_id)


_engines = {}
_engines_lock = threading.Lock()


def get_engine(name="default"):
    """The `Engine` for a configured engine name, shared within the process."""
    address = settings.DOCKYARD_ENGINES[name]
    with _engines_lock:
        engine = _engines.get(name)
        if engine is None or engine.address != address:
            engine = Engine(name, address, settings.DOCKYARD_ENGINE_TIMEOUT)
            _engines[name] = engine
        return engine

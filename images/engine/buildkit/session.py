"""The BuildKit session Dockyard attaches to each of its BuildKit builds.

Through it the engine asks for what a terminal's `docker build` would give it:
registry logins for the base images it pulls, and the values of
`RUN --mount=type=secret` mounts. Without one, such a build fails with "no
active sessions". The engine reaches the session on a connection Dockyard
opens (`Engine.open_session`) and calls it over gRPC; `UnaryServer` answers,
in a thread of its own, for as long as the build runs.
"""

import logging
import secrets as random
import socket
import threading

from django.db import connections

from images.engine.buildkit.grpc_server import PERMISSION_DENIED, GrpcError, UnaryServer
from images.engine.buildkit.protos import auth_pb2, health_pb2, secrets_pb2

log = logging.getLogger(__name__)

# How long closing waits for the serving thread (it answers one call at a time,
# and a call is a dictionary or database look-up).
CLOSE_WAIT = 5


def _path(module, service, method):
    return f"/{module.DESCRIPTOR.services_by_name[service].full_name}/{method}"


CREDENTIALS = _path(auth_pb2, "Auth", "Credentials")
GET_SECRET = _path(secrets_pb2, "Secrets", "GetSecret")
HEALTH_CHECK = _path(health_pb2, "Health", "Check")


class BuildSession:
    """One build's session, as a context manager: attached and serving once
    `with` has entered, closed (the engine's side too) when it leaves, whether
    the build ended, failed or was cancelled.

    `credentials(host)` gives the (username, secret) to answer for a registry
    host, or None; `secrets` maps the secret ids chosen for this build to their
    values (bytes). Only those ids are answered: a Dockerfile that mounts any
    other fails, the error naming it. The ids and hosts asked for may be logged;
    values and logins never are."""

    NAME = "dockyard"

    def __init__(self, engine, credentials, secrets):
        self.engine = engine
        self.id = random.token_hex(16)
        self._credentials = credentials
        self._secrets = dict(secrets)
        self._sock = None
        self._thread = None
        self.handlers = {
            CREDENTIALS: (auth_pb2.CredentialsRequest, self._answer_credentials),
            GET_SECRET: (secrets_pb2.GetSecretRequest, self._answer_secret),
            HEALTH_CHECK: (health_pb2.HealthCheckRequest, _answer_health),
        }

    def __repr__(self):
        return f"<BuildSession {self.id} on {self.engine!r}>"

    @property
    def serving(self):
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self):
        self._sock, received = self.engine.open_session(self.id, self.NAME, shared_key=self.id,
                                                        methods=list(self.handlers))
        server = UnaryServer(self._sock, self.handlers)
        self._thread = threading.Thread(target=self._serve, args=(server, received), daemon=True,
                                        name=f"buildkit-session-{self.id[:8]}")
        self._thread.start()
        log.info("BuildKit session %s attached", self.id)
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """End the session: shutting the socket down wakes the serving thread,
        and the engine drops the session when its connection ends."""
        if self._sock is None or self._sock.fileno() == -1:
            return
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the engine closed it first
        self._thread.join(CLOSE_WAIT)
        self._sock.close()
        if self._thread.is_alive():
            log.warning("BuildKit session %s: its thread is still answering a call after %s s", self.id, CLOSE_WAIT)
        else:
            log.info("BuildKit session %s closed, its thread ended", self.id)

    def _serve(self, server, received):
        try:
            server.serve(received)
        except Exception:
            log.exception("BuildKit session %s stopped serving", self.id)
        finally:
            # The credentials look-up may have opened this thread's own database connection.
            connections.close_all()

    def _answer_credentials(self, request):
        host = request.Host
        login = self._credentials(host)
        log.info("BuildKit session %s: the engine asked for the login of %r (%s)", self.id, host[:300],
                 "answered" if login else "none stored")
        if not login:
            return auth_pb2.CredentialsResponse()
        username, secret = login
        return auth_pb2.CredentialsResponse(Username=username, Secret=secret)

    def _answer_secret(self, request):
        if request.ID in self._secrets:
            log.info("BuildKit session %s: the engine read the secret %r", self.id, request.ID)
            return secrets_pb2.GetSecretResponse(data=self._secrets[request.ID])
        log.info("BuildKit session %s: the engine asked for the secret %r, not chosen", self.id, request.ID[:100])
        # Not NOT_FOUND: BuildKit takes that as "no such secret" and, for a mount
        # without required=true (the default), leaves the file out and goes on.
        raise GrpcError(PERMISSION_DENIED, f"the secret {request.ID[:100]!r} was not chosen for this build: "
                                           "choose it among the build's secrets (kept on the Secrets page)")


def _answer_health(request):
    return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


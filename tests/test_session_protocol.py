"""The session's gRPC answers, asked by a gRPC client of the tests' own on a
socket pair: the engine cannot be made to ask for a host it has no image
from, for a method it does not know, or for a secret with a request too large,
so these calls come from here (tests/test_build_session.py has the engine's own)."""

import socket
import struct
import threading

import h2.config
import h2.connection
import h2.events
import pytest

from images.engine.buildkit import grpc_server
from images.engine.buildkit.protos import auth_pb2, health_pb2, secrets_pb2
from images.engine.buildkit.session import CREDENTIALS, GET_SECRET, HEALTH_CHECK, BuildSession

LOGINS = {"127.0.0.1:5999": ("pusher", "a-login-secret")}


class Client:
    """A gRPC client as the engine is one: HTTP/2 over the socket, unary calls."""

    def __init__(self, sock):
        self.sock = sock
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def call(self, path, request_bytes, compressed=False):
        """(the response's headers and trailers, its message bytes or None)."""
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, [(":method", "POST"), (":scheme", "http"), (":path", path),
                                           (":authority", "session"), ("content-type", "application/grpc"),
                                           ("te", "trailers")])
        body = struct.pack(">?I", compressed, len(request_bytes)) + request_bytes
        while body:
            chunk, body = body[:16384], body[16384:]
            while self.conn.local_flow_control_window(stream_id) < len(chunk):
                self._receive({})
            self.conn.send_data(stream_id, chunk)
            self.sock.sendall(self.conn.data_to_send())
        self.conn.end_stream(stream_id)
        self.sock.sendall(self.conn.data_to_send())
        result = {"headers": [], "data": b"", "ended": False}
        while not result["ended"]:
            self._receive({stream_id: result})
        headers = {name: value for block in result["headers"] for name, value in block}
        data = result["data"]
        return headers, data[5:] if data else None

    def _receive(self, results):
        received = self.sock.recv(65536)
        assert received, "the server closed the connection"
        for event in self.conn.receive_data(received):
            result = results.get(getattr(event, "stream_id", None))
            if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)) and result is not None:
                result["headers"].append(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if result is not None:
                    result["data"] += event.data
            elif isinstance(event, h2.events.StreamEnded) and result is not None:
                result["ended"] = True
        self.sock.sendall(self.conn.data_to_send())


@pytest.fixture
def session_client():
    """A BuildSession's answers served on one end of a socket pair, the client on the other."""
    build_session = BuildSession(None, credentials=LOGINS.get, secrets={"npm_token": b"tok-123", "big": b"b" * 300_000})
    served, client_end = socket.socketpair()
    server = grpc_server.UnaryServer(served, build_session.handlers)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield Client(client_end)
    served.shutdown(socket.SHUT_RDWR)
    thread.join(5)
    assert not thread.is_alive()
    served.close()
    client_end.close()


def test_it_answers_the_login_of_the_host_asked_about_and_nothing_for_others(session_client):
    headers, data = session_client.call(CREDENTIALS, auth_pb2.CredentialsRequest(Host="127.0.0.1:5999")
                                        .SerializeToString())
    assert headers["grpc-status"] == "0" and headers[":status"] == "200"
    answer = auth_pb2.CredentialsResponse.FromString(data)
    assert (answer.Username, answer.Secret) == ("pusher", "a-login-secret")
    for host in ("127.0.0.1:5998", "127.0.0.1", "registry-1.docker.io", ""):
        headers, data = session_client.call(CREDENTIALS, auth_pb2.CredentialsRequest(Host=host).SerializeToString())
        assert headers["grpc-status"] == "0"
        answer = auth_pb2.CredentialsResponse.FromString(data)
        assert (answer.Username, answer.Secret) == ("", ""), host


def test_it_answers_only_the_chosen_secrets(session_client):
    headers, data = session_client.call(GET_SECRET, secrets_pb2.GetSecretRequest(ID="npm_token").SerializeToString())
    assert headers["grpc-status"] == "0"
    assert secrets_pb2.GetSecretResponse.FromString(data).data == b"tok-123"
    headers, data = session_client.call(GET_SECRET, secrets_pb2.GetSecretRequest(ID="aws_key").SerializeToString())
    # PermissionDenied, not NotFound: BuildKit skips a mount whose secret is "not found" unless it is required.
    assert headers["grpc-status"] == str(grpc_server.PERMISSION_DENIED) and data is None
    assert "'aws_key' was not chosen for this build" in headers["grpc-message"]


def test_a_secret_larger_than_the_flow_control_window_arrives_whole(session_client):
    headers, data = session_client.call(GET_SECRET, secrets_pb2.GetSecretRequest(ID="big").SerializeToString())
    assert headers["grpc-status"] == "0"
    assert secrets_pb2.GetSecretResponse.FromString(data).data == b"b" * 300_000


def test_the_health_check_answers_serving(session_client):
    headers, data = session_client.call(HEALTH_CHECK, health_pb2.HealthCheckRequest().SerializeToString())
    assert headers["grpc-status"] == "0"
    assert health_pb2.HealthCheckResponse.FromString(data).status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("path", ["/moby.filesync.v1.Auth/GetTokenAuthority", "/moby.filesync.v1.Auth/FetchToken",
                                  "/moby.filesync.v1.FileSync/DiffCopy", "/moby.sshforward.v1.SSH/CheckAgent"])
def test_other_methods_answer_unimplemented(session_client, path):
    # GetTokenAuthority answered so, the engine falls back to Credentials (buildkit session/auth).
    headers, data = session_client.call(path, b"")
    assert headers["grpc-status"] == "12" and data is None


def test_a_broken_or_oversized_request_gets_a_status_and_the_session_goes_on(session_client):
    headers, _ = session_client.call(GET_SECRET, b"\xff\xff\xff")
    assert headers["grpc-status"] == str(grpc_server.INTERNAL)
    headers, _ = session_client.call(GET_SECRET, b"x", compressed=True)
    assert headers["grpc-status"] == "12"
    headers, _ = session_client.call(GET_SECRET, b"i" * (grpc_server.REQUEST_LIMIT + 1))
    assert headers["grpc-status"] == str(grpc_server.RESOURCE_EXHAUSTED)
    headers, _ = session_client.call(HEALTH_CHECK, b"")
    assert headers["grpc-status"] == "0"

"""Unary gRPC calls served on one HTTP/2 connection with the h2 library.

A BuildKit session turns the usual roles around: the engine, which opened
nothing, is the gRPC client on a connection Dockyard opened, and Dockyard
serves. Only unary calls come (the session's auth, secrets and health
methods), so a call is one framed request message in, one framed response
message or a status out. Responses are sent within the engine's flow-control
windows, so a large secret waits for WINDOW_UPDATE frames rather than being cut.
"""

import logging
import struct

import h2.config
import h2.connection
import h2.events
import h2.exceptions

log = logging.getLogger(__name__)

OK, NOT_FOUND, PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNIMPLEMENTED, INTERNAL = 0, 5, 7, 8, 12, 13
# The session's requests are a host name or a secret id: anything near this is not one.
REQUEST_LIMIT = 64 * 1024
_PREFIX = struct.Struct(">?I")  # a gRPC message: compressed flag, then its length


class GrpcError(Exception):
    """A call's answer is this status, not a message."""

    def __init__(self, code, message):
        self.code = code
        self.message = message
        super().__init__(f"gRPC status {code}: {message}")


class UnaryServer:
    """Serves `handlers` ({"/package.Service/Method": (RequestClass, function)},
    each function taking the decoded request and returning a response message
    or raising GrpcError) on `sock` until the peer or `sock.shutdown` ends it."""

    def __init__(self, sock, handlers):
        self.sock = sock
        self.handlers = handlers
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self._calls = {}  # stream id -> [path, request bytes, too large]
        self._unsent = {}  # stream id -> [response bytes not yet sent, trailers]

    def serve(self, received=b""):
        """Answer calls until the connection ends; `received` is what arrived
        before this took over the socket."""
        self.conn.initiate_connection()
        self._send()
        while True:
            if received:
                try:
                    events = self.conn.receive_data(received)
                except h2.exceptions.ProtocolError as exc:
                    log.warning("Closing a session connection the engine broke the HTTP/2 protocol on: %s", exc)
                    self._send()
                    return
                for event in events:
                    if isinstance(event, h2.events.ConnectionTerminated):
                        self._send()
                        return
                    self._handle(event)
                self._send()
            try:
                received = self.sock.recv(64 * 1024)
            except OSError:
                return
            if not received:
                return

    def _send(self):
        data = self.conn.data_to_send()
        if data:
            try:
                self.sock.sendall(data)
            except OSError:
                pass  # the connection is going; the next recv ends the loop

    def _handle(self, event):
        if isinstance(event, h2.events.RequestReceived):
            headers = dict(event.headers)
            self._calls[event.stream_id] = [headers.get(":path", ""), bytearray(), False]
        elif isinstance(event, h2.events.DataReceived):
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            call = self._calls.get(event.stream_id)
            if call is not None and not call[2]:
                call[1] += event.data
                call[2] = len(call[1]) > REQUEST_LIMIT
                if call[2]:
                    call[1] = bytearray()
        elif isinstance(event, h2.events.StreamEnded):
            call = self._calls.pop(event.stream_id, None)
            if call is not None:
                self._answer(event.stream_id, *call)
        elif isinstance(event, h2.events.StreamReset):
            self._calls.pop(event.stream_id, None)
            self._unsent.pop(event.stream_id, None)
        elif isinstance(event, h2.events.WindowUpdated):
            for stream_id in [event.stream_id] if event.stream_id else list(self._unsent):
                if stream_id in self._unsent:
                    self._flush(stream_id)

    def _answer(self, stream_id, path, body, too_large):
        try:
            if too_large:
                raise GrpcError(RESOURCE_EXHAUSTED, f"The request is over {REQUEST_LIMIT} bytes.")
            if path not in self.handlers:
                raise GrpcError(UNIMPLEMENTED, f"Dockyard's session does not serve {path}.")
            request_class, function = self.handlers[path]
            response = function(_decode(request_class, bytes(body)))
        except GrpcError as exc:
            self._status_only(stream_id, exc.code, exc.message)
            return
        except Exception:
            # The engine puts this message in the build's error, which is stored
            # and shown: what went wrong is in the worker's log instead.
            log.exception("The session's answer to %s failed", path)
            self._status_only(stream_id, INTERNAL, "Dockyard failed to answer this call.")
            return
        message = response.SerializeToString()
        self._safely(self.conn.send_headers, stream_id, [(":status", "200"), ("content-type", "application/grpc")])
        self._unsent[stream_id] = [_PREFIX.pack(False, len(message)) + message, [("grpc-status", str(OK))]]
        self._flush(stream_id)

    def _status_only(self, stream_id, code, message):
        self._safely(self.conn.send_headers, stream_id, [
            (":status", "200"), ("content-type", "application/grpc"),
            ("grpc-status", str(code)), ("grpc-message", _percent_encoded(message)),
        ], end_stream=True)

    def _flush(self, stream_id):
        """Send what the stream's and the connection's windows allow; the
        trailers once all of the message is out."""
        data, trailers = self._unsent[stream_id]
        try:
            while data:
                room = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size)
                if room <= 0:
                    self._unsent[stream_id][0] = data
                    return
                self.conn.send_data(stream_id, data[:room])
                data = data[room:]
            self.conn.send_headers(stream_id, trailers, end_stream=True)
        except h2.exceptions.StreamClosedError:
            pass  # the engine gave up on the call
        del self._unsent[stream_id]

    def _safely(self, send, *args, **kwargs):
        try:
            send(*args, **kwargs)
        except h2.exceptions.StreamClosedError:
            pass


def _decode(request_class, body):
    if len(body) < _PREFIX.size:
        raise GrpcError(INTERNAL, "The request is not a gRPC message.")
    compressed, length = _PREFIX.unpack_from(body)
    if compressed:
        raise GrpcError(UNIMPLEMENTED, "Dockyard's session takes uncompressed messages only.")
    if length != len(body) - _PREFIX.size:
        raise GrpcError(INTERNAL, "The request's length does not match its message.")
    try:
        return request_class.FromString(body[_PREFIX.size:])
    except Exception as exc:  # protobuf's DecodeError, and its C implementation's own
        raise GrpcError(INTERNAL, f"The request is not a {request_class.DESCRIPTOR.full_name}.") from exc


def _percent_encoded(message):
    """grpc-message as the gRPC spec has it: UTF-8, with '%' and bytes outside
    printable ASCII percent-encoded."""
    return "".join(chr(byte) if 0x20 <= byte <= 0x7E and byte != 0x25 else f"%{byte:02X}"
                   for byte in message.encode("utf-8"))

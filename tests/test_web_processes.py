"""Several ASGI processes behind one port (DOCKYARD_WEB_PROCESSES): a viewer gets
every line, and the stream limit holds, whichever process its socket lands on."""

import json
import re
import threading
import time

import psutil
import pytest
from websockets.exceptions import ConnectionClosed

from images.jobs import logstore
from tests import dockerlib
from tests.live import JobSocket, own_server, start_build, wait_for_job, wait_for_lines

pytestmark = pytest.mark.usefixtures("worker")

PROCESSES = 2
SLOW = (f"FROM {dockerlib.BASE_IMAGE}\nRUN for i in $(seq 1 400); do echo \"line $i\"; sleep 0.02; done\n"
        f"LABEL {dockerlib.TEST_LABEL}=1\n")


def _serving_processes(server, expected, timeout=60):
    """The pids of the server's worker processes, once all of them accept."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = {int(pid) for pid in re.findall(rb"Started server process \[(\d+)\]", server.log_path.read_bytes())}
        if len(pids) == expected:
            return pids
        time.sleep(0.2)
    raise AssertionError(f"{expected} server processes did not start; see {server.log_path}")


def _process_of(sock, pids):
    """Which server process holds the other end of a client socket."""
    port = sock.local_port
    deadline = time.monotonic() + 5  # the handshake is done; the accept is in the process's table
    while time.monotonic() < deadline:
        for pid in pids:
            for connection in psutil.Process(pid).net_connections("inet"):
                if connection.raddr and connection.raddr.port == port:
                    return pid
        time.sleep(0.05)
    holders = [(c.pid, c.laddr, c.status) for c in psutil.net_connections("inet") if c.raddr and c.raddr.port == port]
    raise AssertionError(f"no server process {pids} holds the socket from port {port}: {holders}")


def test_viewers_on_every_process_get_every_line_and_share_one_stream_limit(live_settings, builder_client,
                                                                           builder_session):
    limit = 40
    with own_server(live_settings, "processes", processes=PROCESSES, DOCKYARD_MAX_STREAMS=str(limit)) as server:
        pids = _serving_processes(server, PROCESSES)
        job = start_build(builder_client, SLOW, no_cache="on")  # a cached RUN prints nothing
        wait_for_lines(job, 20)
        # The kernel hands each connection to whichever process accepts first, so
        # open sockets until every process holds some (or the limit is reached).
        viewers, landed = [], set()
        while len(viewers) < limit:
            viewers.append(JobSocket(server, builder_session, job.pk))
            landed.add(_process_of(viewers[-1], pids))
        assert landed == pids, f"{limit} sockets landed on {landed} of {pids}"

        # One more is refused, whichever process takes it: the count is in Redis.
        extra = JobSocket(server, builder_session, job.pk)
        refused = json.loads(extra.conn.recv(timeout=10))
        assert refused["type"] == "refused"
        with pytest.raises(ConnectionClosed):
            extra.conn.recv(timeout=10)
        assert extra.conn.close_code == 4429

        received = [[] for _ in viewers]

        def read(index):
            for event in viewers[index].events(timeout=120):
                if event["type"] == "lines":
                    received[index].extend(tuple(line) for line in event["lines"])

        readers = [threading.Thread(target=read, args=(index,)) for index in range(len(viewers))]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(150)
        for viewer in viewers:
            viewer.close()
        job = wait_for_job(job)
        stored = logstore.lines(job)
        assert job.state == "succeeded" and len(stored) > 400
        assert all(lines == stored for lines in received)

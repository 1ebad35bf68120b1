"""Scenarios of runs (issue 25), called from bench/run.py with its server, worker
and viewer session: a run from submit to its output at a viewer's socket,
against `docker run --rm` of the same command.

- 40: `echo hi`, submit to the line (and the run's end) at a viewer, against
  `docker run --rm IMAGE echo hi`: target ≤ 1.2×.
- 41: a run printing LINES lines, submit to the last line at a viewer, against
  `docker run --rm IMAGE …` with its output to /dev/null: target ≤ 1.25×.
"""

import http.client
import json
import subprocess
from urllib.parse import urlsplit

from bench import viewers
from bench.report import fmt, in_turn, median, record
from images.models import Job
from tests import dockerlib

PRINT = "i=0; while [ $i -lt {lines} ]; do echo \"line $i padding padding padding\"; i=$((i+1)); done"


def _start_run(dockyard, image_id, body):
    address = urlsplit(dockyard.server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=600)
    try:
        connection.request("POST", f"/api/images/{image_id.split(':', 1)[1]}/run", body=json.dumps(body),
                           headers={"Authorization": f"Bearer {dockyard.token}", "Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read())
        assert response.status == 201, answer
        return answer["id"]
    finally:
        connection.close()


def _watched_run(dockyard, server, session, image_id, body, seen):
    def ours():
        job_id = _start_run(dockyard, image_id, body)
        got = viewers.watch(f"{server.ws_url}/ws/jobs/{job_id}/?after=0", f"sessionid={session}", server.url, 1)[0]
        seen.append((job_id, got))
    return ours


def _docker_run(*command):
    return lambda: subprocess.run(["docker", "run", "--rm", "--network", "none", dockerlib.BASE_IMAGE, *command],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def _whole(seen):
    """Every run succeeded and its viewer had every stored line, in order."""
    for job_id, got in seen:
        job = Job.objects.get(pk=job_id)
        if job.state != "succeeded" or got != list(range(1, job.line_count + 1)):
            return False
    return True


def scenario_run_start(dockyard, server, session):
    image_id = dockerlib.image_id(dockerlib.BASE_IMAGE)
    seen = []
    runs = in_turn({"dockyard": _watched_run(dockyard, server, session, image_id, {"command": ["echo", "hi"]}, seen),
                    "cli": _docker_run("echo", "hi")})
    whole = _whole(seen)
    record("40. Run `echo hi`, submit to its line and end at a viewer", runs["dockyard"], "≤1.2× `docker run --rm`",
           median(runs["dockyard"]) <= 1.2 * median(runs["cli"]) and whole,
           reference=("`docker run --rm IMAGE echo hi`", runs["cli"]),
           detail=f"every run's line at its viewer: {whole}")


def scenario_run_output(dockyard, server, session, lines):
    image_id = dockerlib.image_id(dockerlib.BASE_IMAGE)
    script = PRINT.format(lines=lines)
    seen = []
    runs = in_turn({"dockyard": _watched_run(dockyard, server, session, image_id, {"shell": script}, seen),
                    "cli": _docker_run("sh", "-c", script)})
    whole = _whole(seen)
    record(f"41. Run printing {lines:,} lines, submit to the last line at a viewer", runs["dockyard"],
           "≤1.25× `docker run --rm` to /dev/null, nothing lost",
           median(runs["dockyard"]) <= 1.25 * median(runs["cli"]) and whole,
           reference=("`docker run --rm … > /dev/null`", runs["cli"]),
           detail=f"every line stored and delivered in order in every run: {whole}; "
                  f"the CLI's median {fmt(median(runs['cli']))}")

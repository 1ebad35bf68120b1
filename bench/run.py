"""Dockyard against the docker CLI on the same engine: `make bench`.

Prepares its own images (named dockyard-bench/…, labelled dockyard.test) and
its own database under var/bench, runs each scenario several times alternating
Dockyard and the CLI, prints a table and writes it as JSON to
bench/results/latest.json. Cleans up what it made.
"""

import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DOCKYARD_DATA_DIR", str(ROOT / "var" / "bench"))
# The Redis scripts/services.sh started keeps its password in the default data
# directory, not in the bench's own.
_password = ROOT / "var" / "redis-password"
if "REDIS_URL" not in os.environ and _password.exists():
    os.environ["REDIS_URL"] = (f"redis://:{quote(_password.read_text().strip(), safe='')}@127.0.0.1:"
                               f"{os.environ.get('DOCKYARD_REDIS_PORT', '6379')}/0")
os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
os.environ["DOCKYARD_QUEUE"] = f"dockyard-bench-{os.getpid()}"
os.environ["DOCKYARD_CHANNEL_PREFIX"] = f"dockyard-bench-{os.getpid()}"
os.environ.setdefault("DOCKYARD_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
# The bench's images carry a label of this bench run's own (tests/dockerlib.py):
# a test run, or another bench, on the same engine removes only its own.
os.environ.setdefault("DOCKYARD_TEST_RUN", f"bench-{os.getpid()}")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from images.accounts import roles  # noqa: E402
from images.builds import contexts
from images.engine import get_engine  # noqa: E402
from images.models import ApiToken, Job  # noqa: E402
from tests import bodies, dockerlib, live  # noqa: E402
from bench import buildkit, file_index, graph_page, viewers  # noqa: E402

N_TAGS = int(os.environ.get("BENCH_TAGS", 2000))
N_IMAGES = int(os.environ.get("BENCH_IMAGES", 300))
N_DANGLING = int(os.environ.get("BENCH_DANGLING", 200))
N_LAYERS = int(os.environ.get("BENCH_LAYERS", 60))
LOG_LINES = int(os.environ.get("BENCH_LOG_LINES", 200_000))
FANOUT = int(os.environ.get("BENCH_FANOUT", 100))
# Scenario 10: one build's viewers spread over several web processes, as `make run` serves.
WEB_PROCESSES = int(os.environ.get("BENCH_WEB_PROCESSES", os.cpu_count() or 1))
SPREAD_FANOUTS = [int(n) for n in os.environ.get("BENCH_SPREAD_FANOUTS", "100,1000").split(",")]
BODY_MB = int(os.environ.get("BENCH_BODY_MB", 2048))  # scenarios 8 and 9
REPEAT = int(os.environ.get("BENCH_REPEAT", 5))
BODY_REPEAT = int(os.environ.get("BENCH_BODY_REPEAT", 3))  # scenarios 8 and 9
ONLY = {int(n) for n in os.environ.get("BENCH_ONLY", "").split(",") if n.strip()}  # e.g. BENCH_ONLY=4,5
PREFIX = "dockyard-bench"
results = []


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(dockyard, cli, repeat=REPEAT, runs=None):
    """The medians of `repeat` timings of each, taken in turn; every timing
    goes into `runs` (a dict of two lists) if given."""
    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(timed(dockyard))
        theirs.append(timed(cli))
    if runs is not None:
        runs["dockyard"], runs["cli"] = ours, theirs
    return statistics.median(ours), statistics.median(theirs)


def spread(times):
    """Every timing, in the order taken, and the machine's load meanwhile: on
    a shared machine the median alone hides how far apart runs are."""
    return "[" + ", ".join(f"{t:.1f}" for t in times) + "] s"


def load():
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def record(scenario, dockyard, cli, target, passed, detail=""):
    results.append({"scenario": scenario, "dockyard": dockyard, "cli": cli,
                    "ratio": (dockyard / cli) if (cli and dockyard is not None) else None,
                    "target": target, "pass": passed, "detail": detail})
    print(f"  {scenario}: dockyard {fmt(dockyard)}, cli {fmt(cli)} -> {'PASS' if passed else 'FAIL'} {detail}",
          flush=True)


def fmt(seconds):
    return "—" if seconds is None else f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def page(client, url):
    """GET `url`; a timing of an error page would measure nothing."""
    def get():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    return get


def cli(*args):
    return lambda: dockerlib.docker(*args)


# Data ------------------------------------------------------------------------

def make_shelf(engine):
    """N_IMAGES small images carrying N_TAGS tags, and N_DANGLING dangling ones."""
    api = engine.api
    print(f"Preparing {N_IMAGES} images, {N_TAGS} tags, {N_DANGLING} dangling…", flush=True)
    ids = []
    for i in range(N_IMAGES + N_DANGLING):
        image = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL bench={i}-{os.getpid()}\n")
        ids.append(image)
    tagged, dangling = ids[:N_IMAGES], ids[N_IMAGES:]
    for t in range(N_TAGS):
        api.tag(tagged[t % N_IMAGES], f"{PREFIX}/app{t % 97}", f"v{t}")
    return tagged, dangling


def deep_image():
    steps = "".join(f"RUN echo {i} > /layer{i}\n" if i % 2 else f"ENV STEP{i}={i}\n" for i in range(N_LAYERS - 1))
    return dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\n{steps}", tags=[f"{PREFIX}/deep:1"])


# Scenarios -------------------------------------------------------------------

def scenario_list(client, token):
    ours, theirs = alternate(page(client, "/"), cli("images"))
    record("1. List page (first page)", ours, theirs, "≤1.5× CLI and <300 ms",
           ours <= 1.5 * theirs and ours < 0.3, f"{N_TAGS} tags")
    api_ours, _ = alternate(page(client, "/api/images"), lambda: None, repeat=3)
    record("1. List API (all rows)", api_ours, theirs, "≤1.5× CLI", api_ours <= 1.5 * theirs)


def scenario_detail(client, image):
    hex_id = image.split(":")[1]
    ours, theirs = alternate(page(client, f"/images/{hex_id}/"),
                             lambda: (dockerlib.docker("history", image), dockerlib.docker("image", "inspect", image)))
    record("2. Image page", ours, theirs, "≤1.5× CLI", ours <= 1.5 * theirs, f"{N_LAYERS} layers")


def wait_job(job_id, timeout=600):
    deadline = time.monotonic() + timeout
    while True:
        job = Job.objects.get(pk=job_id)
        if job.is_final:
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} still {job.state}")
        time.sleep(0.02)


def api_build(client, dockerfile, tag):
    # Against `docker build` with DOCKER_BUILDKIT=0: the classic builder on both sides (BuildKit: 30, 31).
    response = client.post("/api/builds", {"source": "dockerfile", "dockerfile_text": dockerfile, "tags": tag,
                                           "no_cache": "on", "builder": "classic"})
    return response.json()["id"]


def cli_build(dockerfile, tag):
    return subprocess.run(["docker", "build", "--no-cache", "-q", "-t", tag, "-"], input=dockerfile.encode(),
                          capture_output=True, env=dockerlib.CLI_ENV, check=True)


def scenario_build(api):
    dockerfile = (f"FROM {dockerlib.BASE_IMAGE}\nRUN sleep 1 && echo one\nRUN sleep 1 && echo two\n"
                  f"RUN dd if=/dev/zero of=/f bs=1024 count=2000\nLABEL {dockerlib.TEST_LABEL}=1\n")
    ours, theirs = alternate(lambda: wait_job(api_build(api, dockerfile, f"{PREFIX}/build:d")),
                             lambda: cli_build(dockerfile, f"{PREFIX}/build:c"), repeat=3)
    record("3. Build (submit to succeeded)", ours, theirs, "≤1.10× CLI", ours <= 1.10 * theirs)


async def _collect(url, cookie, origin, until_final=True, stamps=None, sink=None, opened=None):
    import websockets

    received = []
    async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": origin},
                                  max_size=None, open_timeout=120) as socket:
        if opened is not None:
            opened.append(time.time())
        async for raw in socket:
            now = time.time()
            event = json.loads(raw)
            if event["type"] == "lines":
                for seq, text in event["lines"]:
                    received.append(seq)
                    if stamps is not None and text.startswith("ts "):
                        stamps.append((float(text[3:]), now))
            elif event["type"] == "progress" and sink is not None:
                sink.append(now)
            elif event["type"] == "state" and event["state"] in ("succeeded", "failed", "cancelled", "interrupted"):
                return received


def watch(server, session, job_id, clients=1, stamps=None, sink=None, opened=None):
    url = f"{server.ws_url}/ws/jobs/{job_id}/?after=0"

    async def run():
        return await asyncio.gather(*[_collect(url, f"sessionid={session}", server.url, stamps=stamps, sink=sink,
                                               opened=opened) for _ in range(clients)])
    return asyncio.run(run())


def worker_peak_rss(worker):
    """Peak resident memory of the worker's processes, in MB (VmHWM)."""
    import psutil

    peak = 0
    for proc in [psutil.Process(worker.process.pid), *psutil.Process(worker.process.pid).children(recursive=True)]:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak = max(peak, int(re.search(r"VmHWM:\s+(\d+)", status)[1]))
    return peak / 1024


def scenario_log_throughput(api, server, session, worker):
    dockerfile = (f"FROM {dockerlib.BASE_IMAGE}\nRUN i=0; while [ $i -lt {LOG_LINES} ]; do "
                  f"echo \"line $i padding padding padding\"; i=$((i+1)); done\nLABEL {dockerlib.TEST_LABEL}=1\n")
    cli_time = timed(lambda: cli_build(dockerfile, f"{PREFIX}/log:c"))
    start = time.perf_counter()
    job_id = api_build(api, dockerfile, f"{PREFIX}/log:d")
    lines = watch(server, session, job_id)[0]
    job = wait_job(job_id)
    ours = (job.finished_at - job.queued_at).total_seconds()
    in_order = lines == list(range(1, job.line_count + 1))
    stored = job.lines.count()
    rss = worker_peak_rss(worker)
    ok = ours <= 1.25 * cli_time and in_order and stored == job.line_count and rss < 200
    record("4. Log throughput", ours, cli_time, "≤1.25× CLI, nothing lost, worker <200 MB", ok,
           f"{job.line_count} lines stored {stored}, delivered in order {in_order}, worker peak {rss:.0f} MB, "
           f"wall {time.perf_counter() - start:.1f} s")


LATENCY_RUN = ("RUN i=0; while [ $i -lt 500 ]; do adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} "
               "END{printf \"ts %d.%06d\\n\", s, u}'; usleep 10000; i=$((i+1)); done\n")


def scenario_latency(api, server, session, clients, name=None):
    # Time for every viewer to connect before the stamped lines start, and only
    # lines printed after the last one was on the live feed (had its first
    # state) count: a line replayed from storage to a late viewer is catch-up,
    # not delivery latency. The viewers are bench/viewers.py's, cheap enough
    # that a thousand of them leave the cores to the server; a line counts as
    # delivered when its frame reaches the viewer's socket (see there).
    settle = max(2, clients // 100)
    dockerfile = f"FROM {dockerlib.BASE_IMAGE}\nRUN sleep {settle}\n{LATENCY_RUN}LABEL {dockerlib.TEST_LABEL}=1\n"
    printed_and_seen, opened, ended = [], [], []
    job_id = api_build(api, dockerfile, f"{PREFIX}/latency:{clients}-{time.time_ns()}")
    got = viewers.watch(f"{server.ws_url}/ws/jobs/{job_id}/?after=0", f"sessionid={session}", server.url, clients,
                        stamps=printed_and_seen, ready=opened, ended=ended)
    job = wait_job(job_id)
    every = all(seqs == list(range(1, job.line_count + 1)) for seqs in got)
    everyone_in = max(opened)
    counted = [(arrived - printed, read - printed) for printed, arrived, read in printed_and_seen
               if printed > everyone_in]
    assert counted, f"every line was printed before the {clients} viewers had connected; raise the settle time"
    arrivals, reads = sorted(arrived for arrived, _ in counted), sorted(read for _, read in counted)
    p50, p99 = _percentile(arrivals, 0.5), _percentile(arrivals, 0.99)
    name = name or ("5. Latency, 1 client" if clients == 1 else f"6. Fan-out, {clients} clients")
    record(name, p50, None, "p50 <50 ms, p99 <250 ms", p50 < 0.05 and p99 < 0.25 and every,
           f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms at the viewers' sockets "
           f"(read by the bench's one process: p50 {_percentile(reads, 0.5) * 1000:.0f} ms, "
           f"p99 {_percentile(reads, 0.99) * 1000:.0f} ms), every client got every line: {every}; "
           f"the final state reached the last viewer {(max(ended) - job.finished_at.timestamp()) * 1000:.0f} ms "
           f"after the job ended")


def _percentile(ordered, fraction):
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def scenario_pull(api, server, session):
    name = f"127.0.0.1:5000/{PREFIX}/big"
    layers = "".join(f"RUN dd if=/dev/urandom of=/blob{i} bs=1M count=20\n" for i in range(5))
    dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\n{layers}", tags=[f"{name}:1"])
    dockerlib.docker("push", f"{name}:1")

    def forget():
        dockerlib.docker("rmi", f"{name}:1", check=False)

    ours_times, cli_times, rates = [], [], []
    for _ in range(3):
        forget()
        sink = []
        start = time.perf_counter()
        job_id = api.post("/api/pulls", {"reference": f"{name}:1"}).json()["id"]
        watch(server, session, job_id, sink=sink)
        wait_job(job_id)
        ours_times.append(time.perf_counter() - start)
        if len(sink) > 1:
            rates.append((len(sink) - 1) / (sink[-1] - sink[0]) if sink[-1] > sink[0] else 0)
        forget()
        cli_times.append(timed(lambda: dockerlib.docker("pull", f"{name}:1")))
    forget()
    ours, theirs = statistics.median(ours_times), statistics.median(cli_times)
    rate = max(rates) if rates else 0
    record("7. Pull 100 MB, 5 layers", ours, theirs, "≤1.10× CLI; ≤~10 progress msgs/s", ours <= 1.10 * theirs
           and rate <= 11, f"progress messages {rate:.1f}/s")


def _megabytes_per_second(size, seconds):
    return size / seconds / 1e6


def scenario_upload(token, server, worker):
    """A BODY_MB build context posted to the API, BODY_REPEAT times: the
    upload's speed (until the job is made) and every process's peak memory
    until the engine has it all."""
    size = BODY_MB * 2**20
    folder = Path(settings.DATA_DIR) / "bench-bodies"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Writing a {BODY_MB} MB build context…", flush=True)
    path, _ = bodies.context_body(folder / "context-body", size, f"FROM {dockerlib.BASE_IMAGE}\nLABEL {dockerlib.TEST_LABEL}=1\n",
                                  {"source": "upload", "tags": f"{PREFIX}/upload:1"})
    length = path.stat().st_size
    uploads, builds, reports = [], [], []
    try:
        for _ in range(BODY_REPEAT):
            with bodies.PeakMemory(server, worker) as peaks:
                start = time.perf_counter()
                status, body = bodies.post_file(server, "/api/builds", path, {"Authorization": f"Bearer {token}"})
                uploads.append(time.perf_counter() - start)
                assert status == 201, (status, body[:500])
                job = wait_job(bodies.json_id(body))
            assert job.state == "succeeded", job.error
            contexts.discard_upload(job.params["context_file"])
            builds.append((job.finished_at - job.queued_at).total_seconds())
            reports.append(peaks)
    finally:
        path.unlink(missing_ok=True)
    upload = statistics.median(uploads)
    rate = _megabytes_per_second(length, upload)
    worst = max(reports, key=lambda report: report.highest())
    record(f"8. Upload {BODY_MB / 1024:g} GB build context (API)", upload, None,
           "≥100 MB/s, every process <300 MB", rate >= 100 and worst.highest() < 300,
           f"{rate:.0f} MB/s for {length / 1e6:.0f} MB (runs {spread(uploads)}, {load()}); build done "
           f"{statistics.median(builds):.1f} s after; peaks: {worst.report()}")


def scenario_export(session, server, worker):
    """GET the export of a BODY_MB image against `docker save > /dev/null`."""
    tag = f"{PREFIX}/export:1"
    print(f"Building a {BODY_MB} MB image…", flush=True)
    dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN head -c {BODY_MB * 2**20} /dev/urandom > /blob\n", tags=[tag])
    hex_id = dockerlib.image_id(tag).split(":")[1]
    sizes, reports, runs = [], [], {}

    def ours():
        with bodies.PeakMemory(server, worker) as peaks:
            status, size, _ = bodies.get(server, f"/images/{hex_id}/export", {"Cookie": f"sessionid={session}"},
                                         digest=False)
        assert status == 200, status
        sizes.append(size)
        reports.append(peaks)

    def theirs():
        subprocess.run(["docker", "save", tag], stdout=subprocess.DEVNULL, env=dockerlib.CLI_ENV, check=True)

    try:
        mine, cli_time = alternate(ours, theirs, repeat=BODY_REPEAT, runs=runs)
    finally:
        dockerlib.docker("rmi", tag, check=False)
    worst = max(reports, key=lambda report: report.highest())
    record(f"9. Export {BODY_MB / 1024:g} GB image vs `docker save > /dev/null`", mine, cli_time,
           "≤1.2× CLI, every process <300 MB", mine <= 1.2 * cli_time and worst.highest() < 300,
           f"{sizes[0] / 1e6:.0f} MB at {_megabytes_per_second(sizes[0], mine):.0f} MB/s (runs: Dockyard "
           f"{spread(runs['dockyard'])}, CLI {spread(runs['cli'])}, {load()}); peaks: {worst.report()}")


def main():
    call_command("migrate", verbosity=0)
    engine = get_engine()
    version = engine.api.version()
    print(f"Engine {version['Version']} (API {version['ApiVersion']}) at {engine.address}; "
          f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}", flush=True)
    dockerlib.remove_test_images()
    dockerlib.import_base_image()
    users = get_user_model()
    user = users.objects.filter(username="bench").first() or users.objects.create_user("bench", password="bench")
    roles.assign(user, roles.BUILDER)
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    _, token = ApiToken.issue(user, "bench")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    env = live.process_env(settings.DOCKYARD_QUEUE, settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
                           DOCKYARD_DATA_DIR=os.environ["DOCKYARD_DATA_DIR"],
                           # The fan-out scenario's viewers stand in for many people, all logged in as one.
                           DOCKYARD_MAX_STREAMS=str(FANOUT + 10),
                           DOCKYARD_UPLOAD_LIMIT=str(BODY_MB * 2**20 + 2**20))
    worker = live.Worker(env, "bench-worker.log")
    server = live.Server(env)
    try:
        def wanted(number):
            return not ONLY or number in ONLY

        if wanted(1):
            make_shelf(engine)
            scenario_list(client, token)
        if wanted(2):
            scenario_detail(client, deep_image())
        if wanted(3):
            scenario_build(api)
        if wanted(4):
            scenario_log_throughput(api, server, session, worker)
        if wanted(5):
            scenario_latency(api, server, session, 1)
        if wanted(6):
            scenario_latency(api, server, session, FANOUT)
        if wanted(7):
            scenario_pull(api, server, session)
        if wanted(8):
            scenario_upload(token, server, worker)
        if wanted(9):
            scenario_export(session, server, worker)
        if wanted(10):
            spread = live.Server({**env, "DOCKYARD_MAX_STREAMS": str(max(SPREAD_FANOUTS) + 10)}, "bench-spread.log",
                                 processes=WEB_PROCESSES)
            try:
                for clients in SPREAD_FANOUTS:
                    scenario_latency(api, spread, session, clients,
                                     name=f"10. Fan-out, {clients} clients over {WEB_PROCESSES} web processes")
            finally:
                spread.stop()
        if wanted(20) or wanted(21):
            first = file_index.scenario_index(record, fmt, api, worker)
            if wanted(21):
                file_index.scenario_second(record, fmt, api, first)
        if wanted(22):
            file_index.scenario_directory(record, fmt, api, client)
        if wanted(23):
            file_index.scenario_diff(record, fmt, api, client)
        if wanted(24):
            file_index.scenario_members(record, fmt, api, worker)
        if wanted(30):
            buildkit.scenario_small(record, fmt, api, wait_job)
        if wanted(31):
            buildkit.scenario_lines(record, fmt, api, server, session, worker, watch, worker_peak_rss, wait_job)
        if wanted(32):
            graph_page.scenario_graph_page(record, fmt, server, session, user)
    finally:
        worker.stop()
        server.stop()
        dockerlib.remove_test_images()
        for ref in dockerlib.docker("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", f"reference={PREFIX}/*",
                                    "--filter", f"label={dockerlib.TEST_LABEL}").split():
            dockerlib.docker("rmi", "-f", ref, check=False)
    report = {"engine": version["Version"], "api": version["ApiVersion"], "machine": platform.machine(),
              "cores": os.cpu_count(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "results": results}
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2))
    print("\n| scenario | Dockyard | CLI | ratio | target | result |\n| --- | --- | --- | --- | --- | --- |")
    for row in results:
        ratio = f"{row['ratio']:.2f}×" if row["ratio"] else "—"
        print(f"| {row['scenario']} | {fmt(row['dockyard'])} | {fmt(row['cli'])} | {ratio} | {row['target']} | "
              f"{'pass' if row['pass'] else 'FAIL'}{': ' + row['detail'] if row['detail'] else ''} |")


if __name__ == "__main__":
    main()

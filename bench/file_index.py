"""`make bench` scenarios 20-24: the file index (images/files), through the
running server.

20. Index a 1 GB image of 50,000 files (BENCH_INDEX_FILES): the index time, the
    floor (reading the engine's layer records it is made from, unparsed) and
    `docker save IMAGE > /dev/null`, which the target is written against.
21. Index a second image that shares all but one small layer with it.
22. One directory of a 100,000-file image (BENCH_EXPLORER_FILES), as the
    explorer asks for it: the first request after a start, and after.
23. The diff of two 50,000-file images (BENCH_DIFF_FILES) whose every file differs.
24. Index a layer of 1,000,000 members (BENCH_MEMBERS), within DOCKYARD_INDEX_MAX_FILES.
"""

import os
import subprocess
import time

from django.conf import settings

from bench import floors
from bench.over_http import Dockyard
from bench.report import REPEAT, fmt, in_turn, median, record, spread, timed
from images.models import ImageIndex, Job, LayerIndex
from tests import bodies, dockerlib

PREFIX = "dockyard-bench"
PER_DIR = 500
INDEX_FILES = int(os.environ.get("BENCH_INDEX_FILES", 50_000))
INDEX_FILE_SIZE = 20_000
EXPLORER_FILES = int(os.environ.get("BENCH_EXPLORER_FILES", 100_000))
DIFF_FILES = int(os.environ.get("BENCH_DIFF_FILES", 50_000))
MEMBERS = int(os.environ.get("BENCH_MEMBERS", 1_000_000))


def files_image(tag, dirs, per_dir, size, base=None):
    """An image whose one RUN writes `dirs` directories of `per_dir` files of
    `size` bytes (sparse: the layer tar still holds every byte)."""
    sizes = f" && seq {per_dir} | xargs truncate -s {size}" if size else ""
    return dockerlib.build(
        f"FROM {base or dockerlib.BASE_IMAGE}\n"
        f"RUN mkdir /files && cd /files && for i in $(seq {dirs}); do mkdir $i; "
        f"(cd $i && seq {per_dir} | xargs touch{sizes}); done\n", tags=[tag])


def index(dockyard, image_id, timeout=3600):
    """Index the image `image_id` ("sha256:…") through the API, to its job's
    end. The id is the caller's, found before any clock starts (asking the CLI
    takes ~40 ms), and the job is polled every 5 ms: what a run times is the
    index, not the bench's own asking and waiting."""
    job_id = dockyard.api_post(f"/api/images/{image_id.split(':')[1]}/index")["id"]
    deadline = time.monotonic() + timeout
    while True:
        job = Job.objects.get(pk=job_id)
        if job.is_final:
            assert job.state == "succeeded", job.error
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"index job {job_id} still {job.state}")
        time.sleep(0.005)


def forget(image_id, keep=()):
    """Drop an image's index and its layers' (but `keep`), to index it afresh."""
    index = ImageIndex.objects.filter(image_id=image_id).first()
    if index is not None:
        LayerIndex.objects.filter(diff_id__in=index.diff_ids).exclude(diff_id__in=keep).delete()
        index.delete()


def _save(tag):
    return lambda: subprocess.run(["docker", "save", tag], stdout=subprocess.DEVNULL, env=dockerlib.CLI_ENV,
                                  check=True)


def _size(size):
    return f"{size / 1e9:.1f} GB" if size >= 1e8 else f"{size / 1e6:.0f} MB"


def scenario_index(dockyard, worker):
    tag = f"{PREFIX}/files-index:1"
    size = _size(INDEX_FILES * INDEX_FILE_SIZE)
    print(f"Building a {size} image of {INDEX_FILES:,} files…", flush=True)
    image_id = files_image(tag, INDEX_FILES // PER_DIR, PER_DIR, INDEX_FILE_SIZE)
    peaks = []

    def ours():
        with bodies.PeakMemory(worker) as peak:
            index(dockyard, image_id)
        peaks.append(peak)

    runs = in_turn({"dockyard": ours, "floor": floors.layer_records(image_id), "cli": _save(tag)},
                   before=lambda: forget(image_id))
    index(dockyard, image_id)  # the last run's forget came after it: scenario 21 builds on this index
    worst = max(peaks, key=lambda peak: peak.highest())
    summary = ImageIndex.objects.get(image_id=image_id).summary
    record(f"20. Index a {size} image of {INDEX_FILES:,} files", runs["dockyard"], "≤1.5× CLI, worker <250 MB",
           median(runs["dockyard"]) <= 1.5 * median(runs["cli"]) and worst.highest() < 250,
           reference=("`docker save > /dev/null`", runs["cli"]),
           floor=("its layers' tar-split records read", runs["floor"]),
           detail=f"{summary['files']:,} paths; the target is against `docker save`, which streams every byte, "
                  f"where the index reads only the records (the floor); worker peak {worst.highest():.0f} MB "
                  f"({worst.report()})")
    return tag, image_id, median(runs["dockyard"])


def scenario_second(dockyard, first):
    tag, image_id, first_time = first
    child_tag = f"{PREFIX}/files-index:2"
    child = dockerlib.build(f"FROM {tag}\nRUN echo small > /small\n", tags=[child_tag])
    shared = ImageIndex.objects.get(image_id=image_id).diff_ids
    runs = in_turn({"dockyard": lambda: index(dockyard, child),
                    "floor": floors.layer_records(child, skip=len(shared))},
                   before=lambda: forget(child, keep=shared))
    ours = median(runs["dockyard"])
    record("21. Index a second image sharing all but one small layer", runs["dockyard"], "<10% of scenario 20",
           ours < 0.1 * first_time, floor=("the new layer's record read", runs["floor"]),
           detail=f"{ours / first_time * 100:.0f}% of scenario 20 ({fmt(first_time)}); "
                  f"the {len(shared)} known layers are skipped, not read")


def _first_after_start(fresh_server, session, token, warm_with, cold, warm):
    """Per run, a server just started, warmed with `warm_with` (Django's own
    first-request work), then `cold` (the first ask for what is measured, which
    builds the image's view in that process) and `warm` after it; each
    function takes a Dockyard on that server."""
    colds, warms = [], []
    for _ in range(REPEAT):
        server = fresh_server()
        try:
            dockyard = Dockyard(server, session, token)
            warm_with(dockyard)()
            colds.append(timed(cold(dockyard)))
            warms += [timed(fn) for fn in warm(dockyard)]
        finally:
            server.stop()
    return colds, warms


def scenario_directory(dockyard, fresh_server, session, token):
    tag = f"{PREFIX}/files-explorer:1"
    print(f"Building an image of {EXPLORER_FILES:,} files…", flush=True)
    image_id = files_image(tag, EXPLORER_FILES // PER_DIR, PER_DIR, 0)
    index(dockyard, image_id)
    hex_id = image_id.split(":")[1]
    dirs = EXPLORER_FILES // PER_DIR

    def directory(dockyard, n):
        return dockyard.page(f"/images/{hex_id}/files?path=/files/{n}&fragment=1")

    def api_directory(dockyard, n):
        return dockyard.api_get(f"/api/images/{hex_id}/files?path=/files/{n}")

    pages, apis = [], []
    colds, _ = _first_after_start(
        fresh_server, session, token, lambda d: d.page(f"/images/{hex_id}/"), lambda d: directory(d, 1),
        lambda d: [])
    directory(dockyard, 1)()  # this server builds the image's view here; the cold figure is above
    for n in range(REPEAT * 4):
        pages.append(timed(directory(dockyard, 2 + n % (dirs - 1))))
        apis.append(timed(api_directory(dockyard, 2 + n % (dirs - 1))))
    name = f"22. One directory ({PER_DIR} entries) of a {EXPLORER_FILES:,}-file image"
    record(f"{name}, page fragment over HTTP", pages, "<100 ms", median(pages) < 0.1,
           detail=f"one request to each of {len(pages)} directories")
    record(f"{name}, API over HTTP", apis, "<100 ms", median(apis) < 0.1)
    record(f"{name}, the first request after a start", colds, "— (reported)", None,
           detail="a server just started and warmed with the image's page: this request builds the image's view")


def scenario_diff(dockyard, fresh_server, session):
    print(f"Building two images of {DIFF_FILES:,} files…", flush=True)
    a = files_image(f"{PREFIX}/files-diff:a", DIFF_FILES // PER_DIR, PER_DIR, 10)
    b = files_image(f"{PREFIX}/files-diff:b", DIFF_FILES // PER_DIR, PER_DIR, 20)
    index(dockyard, a)
    index(dockyard, b)

    def diff(dockyard):
        return dockyard.page(f"/images/diff?a={a}&b={b}", containing=b"diff-file-totals")

    colds, warms = _first_after_start(fresh_server, session, dockyard.token,
                                      lambda d: d.page(f"/images/{a.split(':')[1]}/"), diff, lambda d: [diff(d)])
    record(f"23. Diff of two {DIFF_FILES:,}-file images (every file changed), first request after a start",
           colds, "<2 s", median(colds) < 2, detail=f"builds both views; then {spread(warms)}")


def scenario_members(dockyard, worker):
    tag = f"{PREFIX}/files-members:1"
    per = 1000
    print(f"Building a layer of {MEMBERS:,} members…", flush=True)
    built = timed(lambda: files_image(tag, MEMBERS // per, per, 0))
    image_id = dockerlib.image_id(tag)
    peaks = []

    def ours():
        with bodies.PeakMemory(worker) as peak:
            index(dockyard, image_id)
        peaks.append(peak.highest())

    runs = in_turn({"dockyard": ours, "floor": floors.layer_records(image_id)}, before=lambda: forget(image_id))
    index(dockyard, image_id)
    top = LayerIndex.objects.get(diff_id=ImageIndex.objects.get(image_id=image_id).diff_ids[-1])
    cap = settings.DOCKYARD_INDEX_MAX_FILES
    record(f"24. Index a layer of {MEMBERS:,} members (cap {cap:,})", runs["dockyard"],
           "within the cap, worker <250 MB", top.entry_count <= cap and max(peaks) < 250,
           floor=("its layers' tar-split records read", runs["floor"]),
           detail=f"{top.entry_count:,} entries kept, note: {' '.join(top.notes) or 'none'}; worker peak "
                  f"{max(peaks):.0f} MB; image built in {fmt(built)}")

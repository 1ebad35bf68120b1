"""`make bench` scenarios 20-24: the file index (images/files).

20. Index a 1 GB image of 50,000 files, against `docker save IMAGE > /dev/null`.
21. Index a second image that shares all but one small layer with it.
22. One directory of a 100,000-file image, as the explorer asks for it.
23. The diff of two 50,000-file images whose every file differs.
24. Index a layer of 1,000,000 members (BENCH_MEMBERS), within DOCKYARD_INDEX_MAX_FILES.
"""

import os
import statistics
import subprocess
import time

from django.conf import settings

from images.files import explorer
from images.models import ImageIndex, Job, LayerIndex
from tests import bodies, dockerlib

PREFIX = "dockyard-bench"
REPEAT = int(os.environ.get("BENCH_FILES_REPEAT", 3))
MEMBERS = int(os.environ.get("BENCH_MEMBERS", 1_000_000))


def files_image(tag, dirs, per_dir, size, base=None):
    """An image whose one RUN writes `dirs` directories of `per_dir` files of
    `size` bytes (sparse: the layer tar still holds every byte)."""
    sizes = f" && seq {per_dir} | xargs truncate -s {size}" if size else ""
    return dockerlib.build(
        f"FROM {base or dockerlib.BASE_IMAGE}\n"
        f"RUN mkdir /files && cd /files && for i in $(seq {dirs}); do mkdir $i; "
        f"(cd $i && seq {per_dir} | xargs touch{sizes}); done\n", tags=[tag])


def index(api, reference, timeout=3600):
    response = api.post(f"/api/images/{dockerlib.image_id(reference).split(':')[1]}/index")
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    deadline = time.monotonic() + timeout
    while True:
        job = Job.objects.get(pk=job_id)
        if job.is_final:
            assert job.state == "succeeded", job.error
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"index job {job_id} still {job.state}")
        time.sleep(0.05)


def forget(image_id, keep=()):
    """Drop an image's index and its layers' (but `keep`), to index it afresh."""
    index = ImageIndex.objects.filter(image_id=image_id).first()
    if index is not None:
        LayerIndex.objects.filter(diff_id__in=index.diff_ids).exclude(diff_id__in=keep).delete()
        index.delete()


def _save():
    return lambda tag: subprocess.run(["docker", "save", tag], stdout=subprocess.DEVNULL, env=dockerlib.CLI_ENV,
                                      check=True)


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def scenario_index(record, fmt, api, worker):
    tag = f"{PREFIX}/files-1g:1"
    print("Building a 1 GB image of 50,000 files…", flush=True)
    image_id = files_image(tag, 100, 500, 20_000)
    save = _save()
    ours, theirs, peaks, reports = [], [], [], []
    for _ in range(REPEAT):
        forget(image_id)
        with bodies.PeakMemory(worker) as peak:
            ours.append(_timed(lambda: index(api, tag)))
        peaks.append(peak.highest())
        reports.append(peak.report())
        theirs.append(_timed(lambda: save(tag)))
    mine, cli = statistics.median(ours), statistics.median(theirs)
    summary = ImageIndex.objects.get(image_id=image_id).summary
    record("20. Index a 1 GB image of 50,000 files vs `docker save > /dev/null`", mine, cli,
           "≤1.5× CLI, worker <250 MB", mine <= 1.5 * cli and max(peaks) < 250,
           f"{summary['files']:,} paths; runs {', '.join(fmt(t) for t in ours)} vs {', '.join(fmt(t) for t in theirs)}; "
           f"worker peak {max(peaks):.0f} MB ({reports[peaks.index(max(peaks))]})")
    return tag, image_id, mine, cli


def scenario_second(record, fmt, api, first):
    tag, image_id, first_time, first_save = first
    child_tag = f"{PREFIX}/files-1g:2"
    child = dockerlib.build(f"FROM {tag}\nRUN echo small > /small\n", tags=[child_tag])
    shared = ImageIndex.objects.get(image_id=image_id).diff_ids
    save = _save()
    ours, theirs = [], []
    for _ in range(REPEAT):
        forget(child, keep=shared)
        ours.append(_timed(lambda: index(api, child_tag)))
        theirs.append(_timed(lambda: save(child_tag)))
    mine, cli = statistics.median(ours), statistics.median(theirs)
    record("21. Index a second image sharing all but one small layer", mine, cli, "<10% of scenario 20",
           mine < 0.1 * first_time,
           f"{mine / first_time * 100:.0f}% of scenario 20 ({fmt(first_time)}); engine 20.10 sends every layer "
           f"(`docker save` of it alone takes {fmt(cli)}); the {len(shared)} known layers are skipped, not parsed")


def scenario_directory(record, fmt, api, client):
    tag = f"{PREFIX}/files-100k:1"
    print("Building an image of 100,000 files…", flush=True)
    image_id = files_image(tag, 200, 500, 0)
    index(api, tag)
    hex_id = image_id.split(":")[1]

    def get(path):
        response = client.get(f"/images/{hex_id}/files", {"path": path, "fragment": "1"})
        assert response.status_code == 200, response.status_code

    explorer._kept.clear()  # as after a restart: the first request builds the view
    cold = _timed(lambda: get("/files/1"))
    warm = [_timed(lambda n=n: get(f"/files/{n}")) for n in range(2, 42)]
    api_warm = [_timed(lambda n=n: client.get(f"/api/images/{hex_id}/files", {"path": f"/files/{n}"}))
                for n in range(2, 12)]
    median = statistics.median(warm)
    record("22. One directory (500 entries) of a 100,000-file image", median, None, "<100 ms", median < 0.1,
           f"page fragment p50 {fmt(median)}, max {fmt(max(warm))}; API p50 {fmt(statistics.median(api_warm))}; "
           f"the first request after a start builds the image's view: {fmt(cold)}")


def scenario_diff(record, fmt, api, client):
    print("Building two images of 50,000 files…", flush=True)
    a = files_image(f"{PREFIX}/files-diff:a", 100, 500, 10)
    b = files_image(f"{PREFIX}/files-diff:b", 100, 500, 20)
    index(api, a)
    index(api, b)

    def get():
        response = client.get("/images/diff", {"a": a, "b": b})
        assert response.status_code == 200 and b"diff-file-totals" in response.content

    explorer._kept.clear()
    cold = _timed(get)
    warm = statistics.median([_timed(get) for _ in range(3)])
    record("23. Diff of two 50,000-file images (every file changed)", cold, None, "<2 s", cold < 2,
           f"first {fmt(cold)} (builds both views), then {fmt(warm)}")


def scenario_members(record, fmt, api, worker):
    tag = f"{PREFIX}/files-members:1"
    per = 1000
    print(f"Building a layer of {MEMBERS:,} members…", flush=True)
    built = _timed(lambda: files_image(tag, MEMBERS // per, per, 0))
    image_id = dockerlib.image_id(tag)
    forget(image_id)
    with bodies.PeakMemory(worker) as peak:
        ours = _timed(lambda: index(api, tag))
    cli = _timed(lambda: _save()(tag))
    top = LayerIndex.objects.get(diff_id=ImageIndex.objects.get(image_id=image_id).diff_ids[-1])
    cap = settings.DOCKYARD_INDEX_MAX_FILES
    record(f"24. Index a layer of {MEMBERS:,} members (cap {cap:,})", ours, cli,
           "within the cap, worker <250 MB", top.entry_count <= cap and peak.highest() < 250,
           f"{top.entry_count:,} entries kept, note: {' '.join(top.notes) or 'none'}; worker peak "
           f"{peak.highest():.0f} MB; image built in {fmt(built)}")

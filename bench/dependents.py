"""What the image page's "Bases and dependents" and the base check's marks
cost in the database, at a size a busy team reaches: BUILDS successful builds
with provenance (BASES registry bases, each with a chain base → mid → app of
builds on it), in a SQLite database of the bench's own under var/bench-dependents.

Not a `make bench` scenario (it times no engine and no CLI: there is nothing
to compare with); run it alone: `.venv/bin/python bench/dependents.py`.
"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DOCKYARD_DATA_DIR"] = str(ROOT / "var" / "bench-dependents")
os.environ.pop("DATABASE_URL", None)
from bench import environment  # noqa: E402

environment.prepare("dependents")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from images.bases import checks, dependents  # noqa: E402
from images.models import BaseReference, Job, Provenance  # noqa: E402

BUILDS = int(os.environ.get("BENCH_BUILDS", 5000))
BASES = int(os.environ.get("BENCH_BASES", 50))
REPEAT = 7


def image(number):
    return f"sha256:{number:064x}"


def seed():
    Provenance.objects.all().delete()
    Job.objects.all().delete()
    BaseReference.objects.all().delete()
    now = timezone.now()
    jobs, records, number = [], [], 10**6
    recipe = {"source": "dockerfile", "dockerfile_text": "FROM base\nRUN make\n" * 20, "dockerfile": "Dockerfile"}
    for build in range(BUILDS):
        base = build % BASES
        depth = (build // BASES) % 3  # base → mid → app: 0 built on the registry base, 1 on a mid, 2 on an app
        number += 1
        below = image(base) if depth == 0 else image(number - BASES)
        jobs.append(Job(kind=Job.Kind.BUILD, state=Job.State.SUCCEEDED, target="t", output_limit=1,
                        image_id=image(number), finished_at=now, params={**recipe, "tags": [f"app-{build}:1"]}))
        records.append({"instruction": "FROM", "line": 1, "reference": f"registry.example/base-{base}:1",
                        "image_id": below, "repo_digest": f"sha256:{base:064x}" if depth == 0 else "",
                        "resolved": "when the build started"})
    made = Job.objects.bulk_create(jobs, batch_size=500)
    Provenance.objects.bulk_create([Provenance(job=job, builder="classic", bases=[base])
                                    for job, base in zip(made, records)], batch_size=500)
    BaseReference.objects.bulk_create([BaseReference(engine="default", reference=f"registry.example/base-{base}:1",
                                                     registry_digest=f"sha256:{base + 1:064x}", digest_seen_at=now)
                                       for base in range(BASES)])


def timed(work):
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, result


def main():
    call_command("migrate", verbosity=0)
    seed()
    cold_ms, _ = timed(lambda: dependents._read_recipes(dependents._successful_builds("default")))
    recipes_ms, recipes = timed(lambda: dependents.current_recipes("default"))
    graph_ms, found = timed(lambda: dependents.dependents_of("default", image(0), recipes))
    page_ms, _ = timed(lambda: (dependents.dependents_of("default", image(0), dependents.current_recipes("default")),
                                dependents.built_on("default", image(10**6 + 1))))
    references = {row.reference: row for row in BaseReference.objects.all()}
    marks_ms, marks = timed(lambda: checks._marks("default", references))
    print(f"{BUILDS} builds, {BASES} bases; median of {REPEAT}:")
    print(f"  current recipes read from the database (after a build succeeds): {cold_ms:.0f} ms")
    print(f"  current recipes, kept: {recipes_ms:.0f} ms ({len(recipes)})")
    print(f"  dependents of one base from them: {graph_ms:.1f} ms ({len(found)} dependents)")
    print(f"  the image page's part (recipes, dependents, built-on): {page_ms:.0f} ms")
    print(f"  the check's marks: {marks_ms:.0f} ms ({len(marks)} images marked)")


if __name__ == "__main__":
    main()

"""The bench's figures: timings taken in turn, each side's median and spread,
the machine and its load, and the table written from them.

A run of every scenario with at least MIN_RUNS runs a side is published: it
writes bench/results/<date>.json and .md and the table between the README's
bench markers, so a figure in the README always has its run beside it. Any
other run (BENCH_ONLY, fewer runs) writes bench/results/partial-*.{json,md},
which git ignores.
"""

import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
MIN_RUNS = 5


def _repeat():
    repeat = int(os.environ.get("BENCH_REPEAT", MIN_RUNS))
    # A median of fewer runs is noise; only a developer trying a change asks for it.
    if repeat < MIN_RUNS and os.environ.get("BENCH_FEWER_RUNS") != "1":
        raise SystemExit(f"BENCH_REPEAT={repeat}: at least {MIN_RUNS} runs a side, or BENCH_FEWER_RUNS=1 "
                         "for a development run (it is not published)")
    return max(1, repeat)


REPEAT = _repeat()
rows = []


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def in_turn(sides, repeat=None, before=None, warm=False):
    """Time each of `sides` ({name: function}) once, in turn, `repeat` times:
    a passing load lands on every side alike. `before`, if given, runs untimed
    before each; with `warm`, each side runs once untimed first (a server's
    first request loads code and templates). Returns {name: [seconds, ...]}."""
    times = {name: [] for name in sides}
    for fn in sides.values() if warm else ():
        fn()
    for _ in range(repeat or REPEAT):
        for name, fn in sides.items():
            if before is not None:
                before()
            times[name].append(timed(fn))
    return times


def median(times):
    return statistics.median(times)


def fmt(seconds, scale_of=None):
    """Milliseconds below 10 s, else seconds; `scale_of` picks the unit by another figure."""
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.0f} ms" if (scale_of or seconds) < 10 else f"{seconds:.1f} s"


def spread(times):
    """'135 ms (120–150)': the median, then the lowest and highest run, in one unit."""
    low, high = min(times), max(times)
    return f"{fmt(median(times), high)} ({fmt(low, high).split()[0]}–{fmt(high).split()[0]})"


def record(scenario, dockyard, target, passed, reference=None, floor=None, detail="", value="time"):
    """One row. `dockyard` is its runs (seconds); `reference` and `floor` are
    (label, runs) or None; `passed` is the verdict the scenario reached from
    the medians (None: a figure reported, with no target); `value` says what the runs measure when it is not a
    duration of the whole thing (e.g. "p50 latency")."""
    row = {"scenario": scenario, "value": value, "dockyard": _side(None, dockyard),
           "reference": _side(*reference) if reference else None, "floor": _side(*floor) if floor else None,
           "target": target, "pass": None if passed is None else bool(passed), "detail": detail, "load": _load()}
    rows.append(row)
    compared = "; ".join(f"{side['label']} {fmt(side['median'])}" for side in (row["reference"], row["floor"]) if side)
    print(f"  {scenario}: Dockyard {fmt(row['dockyard']['median'])}{'; ' + compared if compared else ''} -> "
          f"{_verdict(row['pass'])} {detail}", flush=True)
    return row


def failed(number, exc):
    """A scenario that broke off: its row says so, and why."""
    rows.append({"scenario": f"{number}.", "error": f"{type(exc).__name__}: {exc}"[:300], "pass": False,
                 "load": _load()})
    print(f"  {number}. FAILED: {rows[-1]['error']}", flush=True)


def _side(label, times):
    times = list(times)
    return {"label": label, "median": median(times), "min": min(times), "max": max(times), "runs": times}


def _load():
    return [round(x, 2) for x in os.getloadavg()]


# The machine ------------------------------------------------------------------

def machine(engine_version, engine_info):
    from django.conf import settings

    cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    memory = int(re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)[1])
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    if database == "sqlite3":
        database = f"SQLite {sqlite3.sqlite_version}"
    return {
        "cores": os.cpu_count(), "memory_gib": round(memory / 2**20, 1), "cpu": cpu[1] if cpu else platform.processor(),
        "kernel": platform.release(), "arch": platform.machine(),
        "engine": f"Docker Engine {engine_version['Version']} (API {engine_version['ApiVersion']}, "
                  f"{engine_info.get('Driver')})",
        "python": platform.python_version(), "database": database,
    }


def _commit():
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + (" with uncommitted changes" if dirty else "")


class Run:
    """What a run needs to be read later: when, on what, under what load, and
    with which settings (every BENCH_* variable set)."""

    def __init__(self, scenarios):
        self.scenarios = scenarios
        self.started = time.time()
        self.load_before = _load()
        self.commit = _commit()
        self.machine = None

    @property
    def published(self):
        return not self.scenarios and REPEAT >= MIN_RUNS

    def finish(self):
        finished = time.time()
        report = {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.started)),
            "minutes": round((finished - self.started) / 60, 1),
            "commit": self.commit,
            "runs_a_side": REPEAT,
            "settings": {key: value for key, value in sorted(os.environ.items()) if key.startswith("BENCH_")},
            "note": os.environ.get("BENCH_NOTE", ""),
            "machine": self.machine,
            "load_before": self.load_before, "load_after": _load(),
            "rows": rows,
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        stem = time.strftime("%Y-%m-%d", time.gmtime(self.started))
        if not self.published:
            stem = f"partial-{stem}-{time.strftime('%H%M%S', time.gmtime(self.started))}"
        table = markdown(report, f"bench/results/{stem}.json")
        (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        (RESULTS / f"{stem}.md").write_text(table)
        if self.published:
            rewrite_readme(table)
        print(f"\n{table}\nWritten to bench/results/{stem}.json and .md"
              + (" and the README" if self.published else " (partial: not published)"), flush=True)


# The table ----------------------------------------------------------------------

def markdown(report, source):
    m = report["machine"] or {}
    lines = [
        f"Run {report['when']} ({report['minutes']} min, commit {report['commit']}; every figure is from "
        f"[`{source}`]({source})): {m.get('engine')}, {m.get('cores')} cores ({m.get('cpu')}), "
        f"{m.get('memory_gib')} GiB, Linux {m.get('kernel')}, Python {m.get('python')}, {m.get('database')}, "
        f"everything on one machine. Load average (1, 5, 15 min) {_triple(report['load_before'])} before, "
        f"{_triple(report['load_after'])} after.",
    ]
    if report["settings"]:
        lines.append("Settings: " + ", ".join(f"`{k}={v}`" for k, v in report["settings"].items()) + ".")
    if report["note"]:
        lines.append(f"Note: {report['note']}")
    lines += [
        "",
        f"Each figure is the median of {report['runs_a_side']} runs a side, taken in turn, with the lowest and "
        "highest run in brackets; a verdict compares medians.",
        "",
        "| scenario | Dockyard | reference | floor | ratio | target | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in report["rows"]:
        if "error" in row:
            lines.append(f"| {row['scenario']} | — | — | — | — | — | **error**: {row['error']} |".replace("\n", " "))
            continue
        lines.append("| " + " | ".join([
            row["scenario"],
            ("" if row["value"] == "time" else row["value"] + " ") + spread(row["dockyard"]["runs"]),
            _compared(row["reference"]), _compared(row["floor"]), _ratios(row),
            row["target"], _verdict(row["pass"], "**miss**") + (f": {row['detail']}" if row["detail"] else ""),
        ]).replace("\n", " ") + " |")
    return "\n".join(lines) + "\n"


def _verdict(passed, miss="MISS"):
    return "reported" if passed is None else "pass" if passed else miss


def _triple(load):
    return " / ".join(f"{x:.2f}" for x in load)


def _compared(side):
    return f"{side['label']}: {spread(side['runs'])}" if side else "—"


def _ratios(row):
    ours = row["dockyard"]["median"]
    parts = [f"{ours / side['median']:.2f}× {name}" for name, side in (("ref.", row["reference"]),
                                                                      ("floor", row["floor"]))
             if side and side["median"]]
    return ", ".join(parts) or "—"


def rewrite_readme(table):
    text = README.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    README.write_text(text[:start] + "\n" + table + text[end:])

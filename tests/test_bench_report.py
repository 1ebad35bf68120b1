"""bench/report.py: the table `make bench` writes, from the runs it took, and
the README's copy of it. No engine and no timing: the runs are given."""

import json
import re
import subprocess
import sys

import pytest

from bench import report

MACHINE = {"cores": 2, "memory_gib": 23.5, "cpu": "Some CPU", "kernel": "6.1", "arch": "x86_64",
           "engine": "Docker Engine 20.10.24 (API 1.41, overlay2)", "python": "3.11.7", "database": "SQLite 3.40.1"}


@pytest.fixture
def rows(monkeypatch):
    monkeypatch.setattr(report, "rows", [])
    return report.rows


def _report(rows, **extra):
    return {"when": "2026-12-07 12:00 UTC", "minutes": 21.5, "commit": "abc1234", "runs_a_side": 5,
            "settings": {}, "note": "", "machine": MACHINE, "load_before": [1.0, 0.5, 0.2],
            "load_after": [1.5, 0.9, 0.4], "rows": rows, **extra}


def _cells(table, scenario):
    line = next(line for line in table.splitlines() if line.startswith(f"| {scenario} |"))
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_it_shows_each_sides_median_and_spread_and_the_ratio_of_medians(rows):
    report.record("1. List", [0.120, 0.135, 0.300, 0.130, 0.140], "≤2× floor", True,
                  reference=("`docker images`", [0.150, 0.157, 0.170, 0.160, 0.155]),
                  floor=("GET /images/json", [0.050, 0.060, 0.070, 0.065, 0.055]))
    cells = _cells(report.markdown(_report(rows), "bench/results/x.json"), "1. List")
    assert cells[1] == "135 ms (120–300)"
    assert cells[2] == "`docker images`: 157 ms (150–170)"
    assert cells[3] == "GET /images/json: 60 ms (50–70)"
    assert cells[4] == "0.86× ref., 2.25× floor"  # 135/157 and 135/60: medians, not the best runs


def test_it_says_miss_and_reported_as_the_scenario_judged(rows):
    report.record("4. Logs", [2.0] * 5, "≤1.25× CLI", False, reference=("`docker build`", [1.5] * 5),
                  detail="every line stored")
    report.record("22. Cold", [0.4] * 5, "— (reported)", None)
    table = report.markdown(_report(rows), "bench/results/x.json")
    assert _cells(table, "4. Logs")[-1] == "**miss**: every line stored"
    assert _cells(table, "22. Cold")[-1] == "reported"


def test_it_names_the_machine_the_load_and_the_run_behind_the_figures(rows):
    report.record("3. Build", [3.4] * 5, "≤1.10× CLI", True)
    table = report.markdown(_report(rows, note="shared with other work"), "bench/results/2026-12-07.json")
    for text in ("2026-12-07 12:00 UTC", "21.5 min", "abc1234", "bench/results/2026-12-07.json",
                 "Docker Engine 20.10.24", "2 cores (Some CPU)", "23.5 GiB", "Linux 6.1", "Python 3.11.7",
                 "SQLite 3.40.1", "1.00 / 0.50 / 0.20 before", "1.50 / 0.90 / 0.40 after",
                 "median of 5 runs a side", "Note: shared with other work"):
        assert text in table


def test_it_rewrites_only_what_is_between_the_readmes_markers(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nBefore.\n\n{report.BEGIN}\nold table\n{report.END}\n\nAfter.\n")
    monkeypatch.setattr(report, "README", readme)
    report.rewrite_readme("| new | table |\n")
    assert readme.read_text() == f"# Title\n\nBefore.\n\n{report.BEGIN}\n| new | table |\n{report.END}\n\nAfter.\n"


def test_it_refuses_fewer_than_five_runs_unless_told_it_is_a_development_run():
    command = [sys.executable, "-c", "import bench.report as r; print(r.REPEAT)"]
    refused = subprocess.run(command, env={"BENCH_REPEAT": "2", "PATH": ""}, capture_output=True, text=True,
                             cwd=report.ROOT)
    assert refused.returncode != 0 and "BENCH_FEWER_RUNS=1" in refused.stderr
    allowed = subprocess.run(command, env={"BENCH_REPEAT": "2", "BENCH_FEWER_RUNS": "1", "PATH": ""},
                             capture_output=True, text=True, cwd=report.ROOT)
    assert allowed.stdout.strip() == "2"


def test_it_publishes_only_a_run_of_every_scenario_with_five_runs_a_side():
    assert report.Run(set()).published
    assert not report.Run({4, 6}).published


def test_the_readmes_table_is_the_latest_published_runs_own():
    """The README's table is the one `make bench` wrote, beside the results it
    was written from: a figure cannot be quoted without its run."""
    text = (report.ROOT / "README.md").read_text()
    table = text[text.index(report.BEGIN) + len(report.BEGIN):text.index(report.END)].strip()
    published = sorted(path for path in report.RESULTS.glob("*.md") if not path.name.startswith("partial-"))
    assert published, "no published run in bench/results/"
    latest = published[-1]
    assert table == latest.read_text().strip()
    results = json.loads(latest.with_suffix(".json").read_text())
    assert results["runs_a_side"] >= report.MIN_RUNS and not results["settings"].get("BENCH_ONLY")
    assert len(results["rows"]) == len(re.findall(r"^\| \d+\. ", table, re.MULTILINE))
    for row in results["rows"]:
        if "error" in row:  # a scenario that broke off is a row saying why (report.failed), with no runs
            assert row["pass"] is False and f"| {row['scenario']} |" in table, row
            continue
        if row["value"] == "written in":
            # bench/logstore.py writes its million-line log once; the row's verdict is the stored size, not the time.
            assert row["reference"] is None and row["floor"] is None and "the raw log" in row["target"], row
            continue
        assert len(row["dockyard"]["runs"]) >= report.MIN_RUNS, row["scenario"]


def test_a_scenario_that_broke_off_is_a_row_that_says_why(rows):
    report.record("3. Build", [3.4] * 5, "≤1.10× CLI", True)
    report.failed(10, AssertionError("every line was printed before the 1000 viewers had connected"))
    table = report.markdown(_report(rows), "bench/results/x.json")
    assert "| 10. | — | — | — | — | — | **error**: AssertionError: every line was printed before" in table
    assert "| 3. Build | 3400 ms (3400–3400) |" in table

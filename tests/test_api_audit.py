"""The audit log through the API (admins): the page's filters and exports."""

import csv
import io
import json

from images.accounts import roles
from tests.apiclient import bearer
from tests.conftest import make_user
from tests.test_audit import some_entries  # noqa: F401 - the fixture


def targets(response):
    assert response.status_code == 200, response.content
    return [row["target"] for row in response.json()["entries"]]


def test_it_lists_the_log_newest_first_with_the_pages_filters(some_entries):
    api = bearer(some_entries)
    everything = api.get("/api/audit").json()
    assert [row["target"] for row in everything["entries"]] == ["=cmd|' /C calc'!A0", "app:2", "app:1"]
    assert everything["count"] == 3 and everything["entries"][0]["actor"] == "builder"
    assert targets(api.get("/api/audit", {"outcome": "denied"})) == ["app:2"]
    assert targets(api.get("/api/audit", {"action": "tag", "actor": "owner"})) == ["app:1"]
    assert targets(api.get("/api/audit", {"via": "cli"})) == ["=cmd|' /C calc'!A0", "app:2", "app:1"]
    assert targets(api.get("/api/audit", {"q": "SUM"})) == ["=cmd|' /C calc'!A0"]  # the detail, searched
    first = api.get("/api/audit").json()["entries"][-1]["at"]
    assert targets(api.get("/api/audit", {"since": first})) == ["=cmd|' /C calc'!A0", "app:2", "app:1"]
    assert targets(api.get("/api/audit", {"until": "2000-01-01T00:00:00Z"})) == []


def test_it_exports_the_filtered_log_as_csv_and_json_lines(some_entries):
    api = bearer(some_entries)
    response = api.get("/api/audit/export.jsonl", {"action": "tag"})
    assert response["Content-Type"] == "application/jsonl" and response.streaming
    rows = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [(row["actor"], row["target"], row["outcome"]) for row in rows] == [
        ("owner", "app:1", "ok"), ("builder", "=cmd|' /C calc'!A0", "failed")]

    response = api.get("/api/audit/export.csv")
    assert response["Content-Disposition"] == 'attachment; filename="dockyard-audit.csv"'
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["target"] for row in table] == ["app:1", "app:2", "'=cmd|' /C calc'!A0"]  # oldest first
    assert table[2]["detail"] == "'+SUM(1)"  # a spreadsheet shows it, never runs it


def test_only_admins_read_it(some_entries):
    for user in (make_user("viewer", roles.VIEWER), make_user("nobody", roles.BUILDER)):
        api = bearer(user)
        for path in ("/api/audit", "/api/audit/export.csv", "/api/audit/export.jsonl"):
            response = api.get(path)
            assert response.status_code == 403 and "needs the admin role" in response.json()["error"], path

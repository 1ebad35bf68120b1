"""The audit log's own page: filters by who, action, outcome, engine and time,
pages of 100, a CSV export of what the filters select, and who may read it."""

import csv
import io
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from images.models import AuditEntry
from tests.conftest import make_user


def add(actor, action, outcome="ok", engine="default", at=None, **fields):
    return AuditEntry.objects.create(actor_name=actor, action=action, target=f"{action} by {actor}", outcome=outcome,
                                     engine=engine, at=at or timezone.now(), **fields)


def rows(response):
    """(who, action, outcome) of each row the page shows."""
    import re

    body = response.content.decode()
    table = body.split('id="audit-list"', 1)[1].split("</table>", 1)[0] if 'id="audit-list"' in body else ""
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
    return [(c[1], c[3], re.sub(r"<[^>]+>", "", c[5]).strip()) for c in cells if c]


def test_it_filters_by_person_action_outcome_engine_and_time(owner_client):
    now = timezone.now()
    add("carl", "tag", at=now - timedelta(days=3))
    add("carl", "remove", "failed", at=now - timedelta(hours=1))
    add("dana", "remove", "ok", engine="staging", at=now - timedelta(minutes=5))
    url = reverse("audit-list")

    assert rows(owner_client.get(url, {"actor": "carl"})) == [("carl", "remove", "failed"), ("carl", "tag", "ok")]
    assert rows(owner_client.get(url, {"action": "remove", "outcome": "failed"})) == [("carl", "remove", "failed")]
    assert rows(owner_client.get(url, {"engine": "staging"})) == [("dana", "remove", "ok")]
    since = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    until = (now - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    assert rows(owner_client.get(url, {"since": since, "until": until})) == [("carl", "remove", "failed")]


def test_bad_filters_say_why_and_show_nothing(owner_client):
    add("carl", "tag")
    response = owner_client.get(reverse("audit-list"), {"since": "2026-12-07T10:00", "until": "2026-12-01T10:00"})
    assert "“From” must come before “Before”." in response.content.decode()
    assert rows(response) == []
    response = owner_client.get(reverse("audit-list"), {"action": "no-such-action"})
    assert "Select a valid choice" in response.content.decode() and rows(response) == []


def test_it_pages_a_hundred_entries_at_a_time(owner_client):
    start = timezone.now() - timedelta(hours=1)
    AuditEntry.objects.bulk_create(AuditEntry(actor_name="bot", action="tag", target=f"app:{n}", outcome="ok",
                                              at=start + timedelta(seconds=n)) for n in range(130))
    first = owner_client.get(reverse("audit-list"), {"actor": "bot"})
    assert len(rows(first)) == 100 and "Rows 1–100 of 130" in first.content.decode()
    second = owner_client.get(reverse("audit-list"), {"actor": "bot", "page": 2})
    assert len(rows(second)) == 30 and 'href="?actor=bot&amp;page=1"' in second.content.decode()


def test_the_csv_export_holds_what_the_filters_select_oldest_first(owner_client):
    add("carl", "tag", at=timezone.now() - timedelta(hours=2))
    add("carl", "untag", at=timezone.now() - timedelta(hours=1))
    add("dana", "tag")
    page = owner_client.get(reverse("audit-list"), {"actor": "carl"}).content.decode()
    assert 'href="/audit/export.csv?actor=carl"' in page
    response = owner_client.get(reverse("audit-export-csv"), {"actor": "carl"})
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["actor"], row["action"]) for row in table] == [("carl", "tag"), ("carl", "untag")]


def test_an_index_started_by_itself_reads_automatic_after_its_job(owner_client, owner):
    add("owner", "index", "queued", detail="automatic, after job 41", via="auto")
    body = owner_client.get(reverse("audit-list")).content.decode()
    assert "automatic, after job 41" in body and ">automatic</td>" in body and "cli" not in body.split("<tbody>")[1]


def test_only_those_who_may_read_the_log_see_it(client, db):
    client.force_login(make_user("builder", "builder"))
    for url in (reverse("audit-list"), reverse("audit-export-csv")):
        response = client.get(url)
        assert response.status_code == 403
        assert "read and export the audit log needs the admin role" in response.content.decode()


def test_the_header_links_to_the_page_not_the_admin_site(owner_client):
    body = owner_client.get(reverse("images-list")).content.decode()
    assert f'href="{reverse("audit-list")}">Audit log</a>' in body

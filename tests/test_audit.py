"""The audit log: what is recorded for each change, the admin page, and its exports.

Every test also ends with conftest's `_stored_rows_are_clean`, which checks that
each job, tag move and registry the test made has its entry.
"""

import csv
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from images.accounts import roles
from images.models import AuditEntry, Registry
from tests import dockerlib
from tests.conftest import PASSWORDS, REGISTRY_PASSWORD, make_user

EXPORT_CSV = "admin:images_auditentry_export_csv"
EXPORT_JSONL = "admin:images_auditentry_export_jsonl"
CHANGELIST = "admin:images_auditentry_changelist"


def entries():
    return [(e.actor_name, e.action, e.target, e.outcome) for e in AuditEntry.objects.order_by("pk")]


def test_lifecycle_changes_are_recorded_with_who_what_and_outcome(owner, owner_client, base_image):
    repo = dockerlib.unique("audit")
    keep = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN echo keep > /k\n", tags=[f"{repo}:keep"])
    hex_id = keep.split(":")[1]
    owner_client.post(reverse("images-tag", args=[hex_id]), {"repository": repo, "tag": "extra"})
    owner_client.post(reverse("images-untag", args=[hex_id]), {"tag": f"{repo}:extra", "confirm": "yes"})
    gone = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN echo gone > /g\n", tags=[f"{repo}:gone"])
    owner_client.post(reverse("images-remove"), {"image": gone, "confirm": "yes"})
    owner_client.post(reverse("images-prune"), {"confirm": "yes", "label": f"{dockerlib.TEST_LABEL}=none"})

    assert entries() == [
        ("owner", "tag", f"{repo}:extra", "ok"),
        ("owner", "untag", f"{repo}:extra", "ok"),
        ("owner", "remove", gone, "ok"),
        ("owner", "prune", f"dangling images labelled {dockerlib.TEST_LABEL}=none", "ok"),
    ]
    entry = AuditEntry.objects.get(action="tag")
    assert entry.detail == f"to {hex_id[:12]}" and entry.actor == owner and entry.via == "web"
    assert entry.address == "127.0.0.1"
    assert AuditEntry.objects.get(action="remove").detail == f"{repo}:gone"
    assert AuditEntry.objects.get(action="prune").detail.startswith("0 image(s) deleted")


def test_refused_and_failed_changes_are_recorded_with_the_reason(owner, owner_client, base_image):
    image = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN echo busy > /b\n")
    container = dockerlib.docker("run", "-d", "--label", f"{dockerlib.TEST_LABEL}=1", image, "sleep", "300").strip()
    try:
        owner_client.post(reverse("images-remove"), {"image": image, "confirm": "yes"})
        owner_client.post(reverse("images-remove"), {"image": image, "confirm": "yes", "force": "on"})
    finally:
        dockerlib.docker("rm", "-f", container)
    refused, failed = AuditEntry.objects.filter(action="remove").order_by("pk")
    assert refused.outcome == "refused" and refused.detail.startswith("in use by")
    # Even forced, the engine keeps an image a running container uses, and says so.
    assert failed.outcome == "failed" and "running container" in failed.detail
    assert dockerlib.image_id(image) == image


def test_logins_that_fail_are_recorded_without_the_password(db):
    make_user("viewer", roles.VIEWER)
    Client().post(reverse("login"), {"username": "viewer", "password": "owner-password-1"})
    Client().post(reverse("login"), {"username": "=HYPERLINK(\"http://x\")", "password": "builder-password-1"})
    assert entries() == [("anonymous", "login", "viewer", "failed"),
                         ("anonymous", "login", "=HYPERLINK(\"http://x\")", "failed")]
    # conftest's check then searches every stored row for both passwords.


def test_registry_token_and_user_changes_are_recorded(owner, owner_client):
    owner_client.post(reverse("registries-new"), {"address": "127.0.0.1:5999", "username": "u",
                                                  "password": REGISTRY_PASSWORD})
    registry = Registry.objects.get()
    owner_client.post(reverse("registries-edit", args=[registry.pk]), {"address": registry.address, "username": "v",
                                                                       "password": REGISTRY_PASSWORD + "-2"})
    owner_client.post(reverse("registries-delete", args=[registry.pk]))
    owner_client.post(reverse("tokens-list"), {"name": "ci"})
    token = owner.api_tokens.get()
    owner_client.post(reverse("tokens-revoke", args=[token.pk]))
    owner_client.post(reverse("users-list"), {"username": "newcomer", "password1": PASSWORDS["newcomer"],
                                              "password2": PASSWORDS["newcomer"], "role": "builder"})
    newcomer = get_user_model().objects.get(username="newcomer")
    owner_client.post(reverse("users-role", args=[newcomer.pk]), {"role": "viewer", "active": "on"})
    assert [(action, target) for _, action, target, _ in entries()] == [
        ("registry-add", "127.0.0.1:5999"),
        ("registry-change", "127.0.0.1:5999"),
        ("registry-delete", "127.0.0.1:5999"),
        ("token-create", f"ci ({token.prefix}…)"),
        ("token-revoke", f"ci ({token.prefix}…)"),
        ("user-create", "newcomer"),
        ("user-role", "newcomer"),
    ]
    change = AuditEntry.objects.get(action="registry-change")
    assert change.detail == "user v; changed username, password (not recorded)"
    # conftest's check then searches every stored row for both passwords.
    assert AuditEntry.objects.get(action="user-role").detail == "builder -> viewer"
    assert roles.role_of(newcomer) == roles.VIEWER


@pytest.fixture
def some_entries(owner):
    from images.accounts import audit

    builder = make_user("builder", roles.BUILDER)
    audit.record(owner, "tag", "app:1")
    audit.record(builder, "pull", "app:2", audit.DENIED)
    audit.record(builder, "tag", "=cmd|' /C calc'!A0", audit.FAILED, detail="+SUM(1)")
    return owner


def test_the_admin_page_lists_filters_and_exports(some_entries, owner_client):
    page = owner_client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    text = page.content.decode()
    assert "app:1" in text and "app:2" in text and "Export CSV" in text and "Export JSON Lines" in text

    filtered = owner_client.get(reverse(CHANGELIST), {"outcome": "denied"}).content.decode()
    assert "app:2" in filtered and "app:1" not in filtered

    lines = b"".join(owner_client.get(reverse(EXPORT_JSONL), {"action": "tag"}).streaming_content).decode()
    rows = [json.loads(line) for line in lines.splitlines()]
    assert [(row["actor"], row["target"], row["outcome"]) for row in rows] == [
        ("owner", "app:1", "ok"), ("builder", "=cmd|' /C calc'!A0", "failed")]

    response = owner_client.get(reverse(EXPORT_CSV))
    assert response["Content-Disposition"] == 'attachment; filename="dockyard-audit.csv"'
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["target"] for row in table] == ["app:1", "app:2", "'=cmd|' /C calc'!A0"]
    assert table[2]["detail"] == "'+SUM(1)"  # a spreadsheet shows it, never runs it


def test_only_admins_read_the_audit_log(some_entries):
    for user in (make_user("viewer", roles.VIEWER), get_user_model().objects.get(username="builder")):
        client = Client()
        client.force_login(user)
        for name in (CHANGELIST, EXPORT_CSV, EXPORT_JSONL):
            response = client.get(reverse(name))
            assert response.status_code in (302, 403), (user, name)
            assert b"app:1" not in response.content
    # Nobody edits or deletes entries, admins included.
    admin = Client()
    admin.force_login(some_entries)
    entry = AuditEntry.objects.first()
    assert admin.post(reverse("admin:images_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()

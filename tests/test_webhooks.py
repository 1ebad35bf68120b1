"""Webhooks in (GitHub and GitLab pushes, signed with real HMACs) and out (a
receiver this test starts on loopback, delivered to by the session's real
Celery worker, with Celery's retries)."""

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from images.hooks import destinations, outbound, signatures
from images.jobs import control
from images.models import ApiToken, AuditEntry, HookReceipt, Job, WebhookDelivery
from images.middleware import HOOK_BODY_MAX
from tests import dockerlib, storage
from tests.test_request_size import csrf_client, post_unread

REPOSITORY = "team/app"
NOTHING = re.compile(r"(?!)")  # for storage.search_text_columns: only the secret itself is looked for


@pytest.fixture
def api(owner):
    _, token = ApiToken.issue(owner, "hooks")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def recipe(owner):
    """A build asked of Dockyard, whose recipe a push builds again (never sent to a worker: the test's
    transaction is not committed)."""
    job = control.start_build(owner, {"source": "dockerfile", "tags": [dockerlib.unique("hooked") + ":1"],
                                      "dockerfile": "Dockerfile", "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\n"})
    if job.claim():
        assert job.finish(Job.State.SUCCEEDED)
    else:  # once in a suite run a worker left running by another module (tests/test_job_stream.py) took it first
        deadline = time.monotonic() + 60
        while not job.is_final and time.monotonic() < deadline:
            time.sleep(0.1)
            job.refresh_from_db()
        assert job.state == Job.State.SUCCEEDED, (job.state, job.error)
    return job


def make_hook(api, recipe, provider):
    response = api.post("/api/hooks/sources", {"name": f"{provider} app", "provider": provider,
                                               "repository": REPOSITORY, "branch": "main", "recipe": recipe.pk},
                        content_type="application/json")
    assert response.status_code == 201, response.json()
    return response.json()


def push_body(provider, branch="main", repository=REPOSITORY):
    after = "1f" * 20
    if provider == "github":
        return json.dumps({"ref": f"refs/heads/{branch}", "after": after, "repository": {"full_name": repository}})
    return json.dumps({"object_kind": "push", "ref": f"refs/heads/{branch}", "checkout_sha": after,
                       "project": {"path_with_namespace": repository}})


def deliver(hook, provider, body, secret, delivery=None, signed=True):
    """POST a push as GitHub or GitLab sends it: GitHub signs the raw body, GitLab sends the token."""
    delivery = delivery or str(uuid.uuid4())
    if provider == "github":
        headers = {"HTTP_X_GITHUB_EVENT": "push", "HTTP_X_GITHUB_DELIVERY": delivery}
        if signed:
            digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
            headers["HTTP_X_HUB_SIGNATURE_256"] = f"sha256={digest}"
    else:
        headers = {"HTTP_X_GITLAB_EVENT": "Push Hook", "HTTP_X_GITLAB_EVENT_UUID": delivery}
        if signed:
            headers["HTTP_X_GITLAB_TOKEN"] = secret
    # As a provider sends it: no cookie, no CSRF token, and Django checking CSRF as for a browser.
    return Client(enforce_csrf_checks=True).post(f"/api/hooks/git/{hook['id']}", body,
                                                 content_type="application/json", **headers)


PROVIDERS = ["github", "gitlab"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_signed_push_to_the_tracked_branch_rebuilds_the_recipe(api, recipe, provider, owner):
    hook = make_hook(api, recipe, provider)
    assert hook["url"] == f"http://testserver/api/hooks/git/{hook['id']}"
    response = deliver(hook, provider, push_body(provider), hook["secret"])
    assert response.status_code == 201, response.json()
    job = Job.objects.get(pk=response.json()["job"])
    assert (job.kind, job.state, job.retry_of_id, job.created_by) == ("build", "queued", recipe.pk, owner)
    assert job.params == recipe.params
    assert f"as job {job.pk}" in response.json()["message"]
    # The secret was answered once: never again, and stored only encrypted.
    assert "secret" not in api.get("/api/hooks/sources").json()[0]
    assert storage.search_text_columns([hook["secret"]], NOTHING) == []
    receipts = api.get(f"/api/hooks/sources/{hook['id']}/receipts").json()
    assert [receipt["job"] for receipt in receipts] == [job.pk]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_wrong_secret_or_a_missing_signature_starts_nothing(api, recipe, provider):
    hook = make_hook(api, recipe, provider)
    header = "X-Hub-Signature-256" if provider == "github" else "X-Gitlab-Token"
    wrong = deliver(hook, provider, push_body(provider), hook["secret"][:-1] + "x")
    assert wrong.status_code == 401
    assert wrong.json()["error"].startswith(f"{header} is not")
    missing = deliver(hook, provider, push_body(provider), hook["secret"], signed=False)
    assert missing.status_code == 401
    assert missing.json()["error"].startswith(f"{header} is missing")
    assert Job.objects.exclude(pk=recipe.pk).count() == 0
    assert HookReceipt.objects.count() == 0  # a delivery id is remembered only once its signature is good
    assert AuditEntry.objects.filter(action="hook-receive", outcome="refused").count() == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_delivery_sent_again_is_refused(api, recipe, provider):
    hook = make_hook(api, recipe, provider)
    delivery = str(uuid.uuid4())
    first = deliver(hook, provider, push_body(provider), hook["secret"], delivery=delivery)
    assert first.status_code == 201
    again = deliver(hook, provider, push_body(provider), hook["secret"], delivery=delivery)
    assert again.status_code == 409
    assert f"The delivery {delivery} was received already" in again.json()["error"]
    assert list(Job.objects.exclude(pk=recipe.pk).values_list("pk", flat=True)) == [first.json()["job"]]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_push_to_another_branch_or_repository_starts_nothing(api, recipe, provider):
    hook = make_hook(api, recipe, provider)
    other_branch = deliver(hook, provider, push_body(provider, branch="dev"), hook["secret"])
    assert other_branch.status_code == 200
    assert other_branch.json() == {"job": None, "message": "The push is to refs/heads/dev, not the tracked branch "
                                                           "main: nothing was started."}
    other_repository = deliver(hook, provider, push_body(provider, repository="team/other"), hook["secret"])
    assert other_repository.status_code == 200
    assert other_repository.json()["message"] == "The push is to team/other, not team/app: nothing was started."
    assert Job.objects.exclude(pk=recipe.pk).count() == 0


def test_a_delivery_without_its_id_is_refused(api, recipe):
    hook = make_hook(api, recipe, "github")
    body = push_body("github")
    digest = hmac.new(hook["secret"].encode(), body.encode(), hashlib.sha256).hexdigest()
    response = Client().post(f"/api/hooks/git/{hook['id']}", body, content_type="application/json",
                             HTTP_X_GITHUB_EVENT="push", HTTP_X_HUB_SIGNATURE_256=f"sha256={digest}")
    assert response.status_code == 400
    assert response.json()["error"].startswith("X-GitHub-Delivery is missing")
    assert Job.objects.exclude(pk=recipe.pk).count() == 0


def test_a_hook_body_is_capped_and_other_anonymous_bodies_still_need_a_login(db):
    response = post_unread(csrf_client(), "/api/hooks/git/1", HOOK_BODY_MAX + 1)
    assert response.status_code == 413
    assert response.json() == {"error": f"A hook delivery is at most {HOOK_BODY_MAX:,} bytes, with a Content-Length."}
    assert post_unread(csrf_client(), "/api/hooks/sources", 100).status_code == 401
    assert post_unread(csrf_client(), "/api/hooks/git/1/x", 100).status_code == 401


def test_a_hook_with_bad_fields_is_refused_and_not_saved(api, recipe, builder):
    from images.accounts import roles

    roles.assign(builder, roles.VIEWER)
    response = api.post("/api/hooks/sources", {"name": "x", "provider": "bitbucket", "repository": "app",
                                               "branch": "main", "recipe": recipe.pk + 1000, "run_as": "builder"},
                        content_type="application/json")
    assert response.status_code == 400
    fields = {name: [error["message"] for error in errors] for name, errors in response.json()["fields"].items()}
    assert fields == {
        "provider": ["Select a valid choice. bitbucket is not one of the available choices."],
        "repository": ["Give the repository as owner/name (GitLab: group/subgroup/name)."],
        "recipe": ["No build job has this id."]}
    response = api.post("/api/hooks/sources", {"name": "x", "provider": "github", "repository": "team/app",
                                               "branch": "main", "recipe": recipe.pk, "run_as": "builder"},
                        content_type="application/json")
    assert response.json()["fields"] == {"run_as": [
        {"message": "builder may not build on default, so the hook could start nothing.", "code": ""}]}
    assert api.get("/api/hooks/sources").json() == []


def test_hooks_are_for_admins(builder_client, recipe, db):
    response = builder_client.get("/api/hooks/sources")
    assert response.status_code == 403
    assert "needs the admin role" in response.json()["error"]


# Out ------------------------------------------------------------------------------------

def test_an_admin_opens_a_hook_and_its_receipts_in_the_admin_site(api, recipe, owner):
    hook = make_hook(api, recipe, "github")
    assert deliver(hook, "github", push_body("github"), hook["secret"], delivery="seen-in-admin").status_code == 201
    client = Client()
    client.force_login(owner)
    page = client.get(f"/admin/images/hooksource/{hook['id']}/change/")
    assert page.status_code == 200
    assert "seen-in-admin" in page.content.decode() and hook["secret"] not in page.content.decode()


def test_the_header_leads_admins_to_the_webhooks(owner, builder):
    link = 'href="/admin/images/hooksource/">Webhooks</a>'
    for user, shown in ((owner, True), (builder, False)):
        client = Client()
        client.force_login(user)
        assert (link in client.get("/jobs/").content.decode()) is shown


def test_a_receiver_must_be_an_allowed_host(api, settings):
    settings.DOCKYARD_WEBHOOK_HOSTS = ["localhost"]
    # A listed name that resolves to loopback is refused unless the address is listed too.
    with pytest.raises(destinations.DestinationRefused, match="resolves to .*not a public address"):
        destinations.check_url("http://localhost:8080/hook")
    response = api.post("/api/hooks/receivers", {"name": "x", "url": "http://10.1.2.3/hook", "events": ["job.failed"]},
                        content_type="application/json")
    assert response.status_code == 400
    assert "Webhooks may not go to 10.1.2.3" in response.json()["fields"]["url"][0]["message"]


class Receiver(BaseHTTPRequestHandler):
    """Checks each delivery's signature (401 if it is wrong), then answers the next of `statuses`
    (200 once they are used up)."""

    secret = ""
    seen = []
    statuses = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        valid = signatures.dockyard_valid(self.secret, body, self.headers.get("X-Dockyard-Signature", ""))
        Receiver.seen.append((valid, json.loads(body)))
        status = 401 if not valid else (Receiver.statuses.pop(0) if Receiver.statuses else 200)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.seen, Receiver.statuses = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_delivery_answered_500_is_retried_by_the_worker_and_arrives(transactional_db, owner, api, worker,
                                                                     receiver_server, settings):
    settings.DOCKYARD_WEBHOOK_HOSTS = ["127.0.0.1"]
    url = f"http://127.0.0.1:{receiver_server.server_address[1]}/dockyard"
    made = api.post("/api/hooks/receivers", {"name": "ops", "url": url, "events": ["job.failed", "base.updated"]},
                    content_type="application/json")
    assert made.status_code == 201, made.json()
    Receiver.secret, Receiver.statuses = made.json()["secret"], [500]
    [delivery] = outbound.send_event("base.updated", {"base": "python:3.12-slim", "old": "sha256:aa", "new": "sha256:bb"})
    deadline = time.monotonic() + 60
    while WebhookDelivery.objects.get(pk=delivery.pk).state == "pending" and time.monotonic() < deadline:
        time.sleep(0.2)
    logged = api.get("/api/hooks/deliveries").json()
    assert [(entry["id"], entry["state"], entry["attempts"], entry["last_status"]) for entry in logged] == [
        (delivery.pk, "delivered", 2, 200)]
    assert [valid for valid, _ in Receiver.seen] == [True, True]
    assert Receiver.seen[1][1]["data"] == {"base": "python:3.12-slim", "old": "sha256:aa", "new": "sha256:bb"}
    assert Receiver.seen[1][1]["event"] == "base.updated"
    assert storage.search_text_columns([Receiver.secret], NOTHING) == []
    assert Receiver.secret not in worker.log_path.read_text(errors="replace")


def wait_while_pending(delivery_id):
    deadline = time.monotonic() + 60
    while WebhookDelivery.objects.get(pk=delivery_id).state == "pending" and time.monotonic() < deadline:
        time.sleep(0.2)
    return WebhookDelivery.objects.get(pk=delivery_id)


def test_a_test_send_reaches_the_receiver_and_a_404_is_not_tried_again(transactional_db, owner, api, worker,
                                                                       receiver_server, settings):
    settings.DOCKYARD_WEBHOOK_HOSTS = ["127.0.0.1"]
    url = f"http://127.0.0.1:{receiver_server.server_address[1]}/dockyard"
    made = api.post("/api/hooks/receivers", {"name": "ops", "url": url, "events": ["job.failed"]},
                    content_type="application/json")
    Receiver.secret, Receiver.statuses = made.json()["secret"], [200, 404]
    sent = api.post(f"/api/hooks/receivers/{made.json()['id']}/test")
    assert sent.status_code == 202
    delivered = wait_while_pending(sent.json()["id"])
    assert (delivered.state, delivered.attempts, delivered.last_status) == ("delivered", 1, 200)
    assert Receiver.seen[0][1]["event"] == "ping"
    refused = wait_while_pending(api.post(f"/api/hooks/receivers/{made.json()['id']}/test").json()["id"])
    assert (refused.state, refused.attempts, refused.last_status, refused.last_error) == (
        "failed", 1, 404, "The receiver answered 404.")
    assert AuditEntry.objects.filter(action="webhook-test", actor=owner).count() == 2


def test_a_push_through_the_real_server_is_read_and_checked(transactional_db, owner, api, server):
    """Through uvicorn and Dockyard's own ASGI body handling, as GitHub meets it."""
    import urllib.request
    from urllib.error import HTTPError

    with transaction.atomic():  # cancelled before its task is sent: only its recipe is wanted here
        job = control.start_build(owner, {"source": "dockerfile", "tags": [dockerlib.unique("hooked") + ":1"],
                                          "dockerfile": "Dockerfile", "dockerfile_text": "FROM scratch\n"})
        job.request_cancel()
    hook = make_hook(api, job, "github")
    body = push_body("github", branch="dev").encode()

    def post(secret):
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(f"{server.url}/api/hooks/git/{hook['id']}", data=body, method="POST", headers={
            "Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": f"sha256={digest}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except HTTPError as exc:
            return exc.code, json.loads(exc.read())

    assert post(hook["secret"] + "x")[0] == 401
    assert post(hook["secret"]) == (200, {"job": None, "message": "The push is to refs/heads/dev, not the tracked "
                                                                  "branch main: nothing was started."})
    assert Job.objects.count() == 1


def test_a_job_that_ends_is_sent_to_the_receivers_that_asked_for_its_outcome(api, recipe, settings):
    settings.DOCKYARD_WEBHOOK_HOSTS = ["127.0.0.1"]
    for name, events in (("failures", ["job.failed"]), ("successes", ["job.succeeded"])):
        made = api.post("/api/hooks/receivers", {"name": name, "url": "http://127.0.0.1:9/hook", "events": events},
                        content_type="application/json")
        assert made.status_code == 201
    # The worker calls this as a job ends (images.jobs.running); here, for a build that succeeded.
    [delivery] = outbound.job_ended(recipe)
    assert delivery.receiver.name == "successes"
    assert delivery.payload["job"] == {
        "id": recipe.pk, "engine": "default", "kind": "build", "state": "succeeded", "target": recipe.target,
        "image_id": None, "error": "", "queued_at": recipe.queued_at.isoformat(),
        "finished_at": recipe.finished_at.isoformat(), "path": f"/jobs/{recipe.pk}/"}


def test_a_base_update_and_a_finished_batch_are_sent_to_the_receivers_that_asked(api, settings):
    from images.bases import events

    settings.DOCKYARD_WEBHOOK_HOSTS = ["127.0.0.1"]
    for name, asked in (("bases", ["base.updated"]), ("batches", ["rebuild.batch_finished"]), ("jobs", ["job.failed"])):
        made = api.post("/api/hooks/receivers", {"name": name, "url": "http://127.0.0.1:9/hook", "events": asked},
                        content_type="application/json")
        assert made.status_code == 201, made.content
    # What the periodic check and a batch's end announce (images.bases.checks, images.bases.batches).
    events.announce(events.BASE_UPDATED, {"engine": "default", "reference": "127.0.0.1:5000/base:1"})
    events.announce(events.BATCH_FINISHED, {"engine": "default", "batch": 7, "state": "succeeded", "items": []})
    sent = {(delivery.receiver.name, delivery.event, delivery.payload.get("reference") or delivery.payload["batch"])
            for delivery in WebhookDelivery.objects.all()}
    assert sent == {("bases", "base.updated", "127.0.0.1:5000/base:1"), ("batches", "rebuild.batch_finished", 7)}


def test_a_slack_receiver_gets_a_signed_message_summarising_the_event(transactional_db, owner, api, worker,
                                                                      receiver_server, settings):
    settings.DOCKYARD_WEBHOOK_HOSTS = ["127.0.0.1"]
    url = f"http://127.0.0.1:{receiver_server.server_address[1]}/services/T0/B0/x"
    refused = api.post("/api/hooks/receivers", {"name": "chat", "url": url, "events": ["base.updated"],
                                                "format": "teams"}, content_type="application/json")
    assert refused.status_code == 400 and "format" in refused.json()["fields"]
    made = api.post("/api/hooks/receivers", {"name": "chat", "url": url, "events": ["base.updated"],
                                             "format": "slack"}, content_type="application/json")
    assert made.status_code == 201 and made.json()["format"] == "slack"
    Receiver.secret = made.json()["secret"]
    [delivery] = outbound.send_event("base.updated", {
        "engine": "default", "reference": "python:3.12-slim", "old_digest": "sha256:aa", "new_digest": "sha256:bb",
        "old_image_id": "sha256:11", "new_image_id": "", "dependents": ["sha256:22", "sha256:33"]})
    assert wait_while_pending(delivery.pk).state == "delivered"
    [(valid, body)] = Receiver.seen
    assert valid
    summary = "Base python:3.12-slim moved on default (sha256:aa → sha256:bb); 2 images built on it."
    assert body["text"] == summary
    assert body["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": summary}}
    assert body["blocks"][1]["elements"][0]["text"] == f"Dockyard · base.updated · delivery {delivery.pk}"


def test_an_admin_test_sends_from_the_receivers_page_and_each_delivery_is_audited_without_secrets(
        transactional_db, owner, api, worker, receiver_server, settings):
    settings.DOCKYARD_WEBHOOK_HOSTS = ["127.0.0.1"]
    url = f"http://127.0.0.1:{receiver_server.server_address[1]}/services/T0/B0/path-token"
    made = api.post(
        "/api/hooks/receivers", {"name": "ops", "url": url, "events": ["job.failed"]}, content_type="application/json")
    Receiver.secret, Receiver.statuses = made.json()["secret"], [500]
    admin = Client()
    admin.force_login(owner)
    response = admin.post(reverse("admin:images_webhookreceiver_changelist"),
                          {"action": "send_test_delivery", "_selected_action": [made.json()["id"]]})
    assert response.status_code == 302
    [delivery] = WebhookDelivery.objects.all()
    assert wait_while_pending(delivery.pk).state == "delivered"
    assert [(valid, body["event"]) for valid, body in Receiver.seen] == [(True, "ping"), (True, "ping")]
    log = admin.get(reverse("admin:images_webhookdelivery_changelist")).content.decode()
    assert "delivered" in log and ">ops<" in log

    entries = AuditEntry.objects.filter(action__startswith="webhook-").order_by("pk")
    assert [(entry.action, entry.actor_name, entry.outcome, entry.detail) for entry in entries][1:] == [
        ("webhook-test", "owner", "ok", f"delivery {delivery.pk}"),
        ("webhook-delivery", "dockyard", "failed", f"delivery {delivery.pk} of ping: answered 500; to be tried again"),
        ("webhook-delivery", "dockyard", "ok", f"delivery {delivery.pk} of ping: answered 200; delivered")]
    assert storage.search_text_columns([Receiver.secret], NOTHING) == []
    assert not [entry for entry in AuditEntry.objects.all() if "path-token" in f"{entry.target} {entry.detail}"]

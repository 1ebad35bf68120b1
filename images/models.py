import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import connections, models, transaction
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from images.accounts import secrets_box
from images.accounts.permissions import PERMISSIONS, ROLES
from images.refs import hex_id, registry_of


class Job(models.Model):
    """A build, pull, push, import, file index or run of a container, done by a
    worker, with its output stored as numbered lines."""

    class Kind(models.TextChoices):
        BUILD = "build"
        PULL = "pull"
        PUSH = "push"
        IMPORT = "import"
        INDEX = "index"
        RUN = "run"
        RETENTION = "retention"

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"
        INTERRUPTED = "interrupted"

    FINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED, State.INTERRUPTED)

    engine = models.CharField(max_length=31, default="default", db_index=True,
                              help_text="The engine (a DOCKYARD_ENGINES name) the job runs on.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED, db_index=True)
    target = models.CharField(max_length=600, help_text="What the job makes or fetches, for lists.")
    params = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="jobs")
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    queued_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, help_text="When its task was last sent to the queue.")
    cancel_requested = models.BooleanField(default=False)
    image_id = models.CharField(max_length=80, blank=True, db_index=True)
    error = models.TextField(blank=True)
    output_limit = models.BigIntegerField(help_text="Bytes of output kept; past it the middle is dropped.")
    line_count = models.IntegerField(default=0, help_text="Sequence number of the last line written.")
    clipped_after = models.IntegerField(null=True, blank=True, help_text="Last line kept before the clipped middle.")
    clipped_before = models.IntegerField(null=True, blank=True, help_text="First line kept after the clipped middle.")
    clipped_bytes = models.BigIntegerField(default=0)
    steps = models.JSONField(default=list, blank=True)
    graph = models.JSONField(default=dict, blank=True,
                             help_text="A BuildKit build's vertices, transfers and warnings, as the job page draws them.")
    progress = models.JSONField(default=dict, blank=True)
    container_id = models.CharField(max_length=80, blank=True,
                                    help_text="A run's container, kept stopped after it ends until the sweep removes it.")

    class Meta:
        ordering = ["-queued_at", "-pk"]

    def __str__(self):
        return f"{self.kind} #{self.pk} {self.target}"

    def get_absolute_url(self):
        from images import engines

        return engines.reverse_on(self.engine, "jobs-detail", [self.pk])

    @property
    def is_final(self):
        return self.state in self.FINAL_STATES

    @property
    def duration(self):
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()

    @property
    def image_hex(self):
        return hex_id(self.image_id) if self.image_id else ""

    @classmethod
    def retention_cutoff(cls):
        """Jobs that ended before this lose their output lines and uploaded
        archive (DOCKYARD_JOB_RETENTION_DAYS); images.retention removes them."""
        return timezone.now() - timedelta(days=settings.DOCKYARD_JOB_RETENTION_DAYS)

    @property
    def expired(self):
        return self.finished_at is not None and self.finished_at < self.retention_cutoff()

    @property
    def clipped_lines(self):
        if self.clipped_after is None or self.clipped_before is None:
            return 0
        return self.clipped_before - self.clipped_after - 1

    def claim(self):
        """Move a queued job to running; False if it is no longer queued (a
        redelivered message, a cancelled job), so that no job runs twice."""
        now = timezone.now()
        claimed = Job.objects.filter(pk=self.pk, state=Job.State.QUEUED).update(
            state=Job.State.RUNNING, started_at=now, heartbeat_at=now
        )
        if claimed:
            self.state, self.started_at, self.heartbeat_at = Job.State.RUNNING, now, now
            _audit_outcome([self.pk], Job.State.RUNNING)
        return claimed == 1

    def finish(self, state, image_id="", error=""):
        """Record the outcome of a running job. A job already ended elsewhere
        (found interrupted, say) keeps its first outcome."""
        now = timezone.now()
        done = Job.objects.filter(pk=self.pk, state=Job.State.RUNNING).update(
            state=state, finished_at=now, image_id=image_id, error=error
        )
        if done:
            self.state, self.finished_at, self.image_id, self.error = state, now, image_id, error
            _audit_outcome([self.pk], state)
        return done == 1

    def beat(self):
        """Record that the worker is alive; return whether cancel was asked for."""
        Job.objects.filter(pk=self.pk, state=Job.State.RUNNING).update(heartbeat_at=timezone.now())
        return Job.objects.filter(pk=self.pk, cancel_requested=True).exists()

    def request_cancel(self):
        """Cancel a queued job at once, or ask the worker to stop a running one.
        Return the state the job is in (or is going to)."""
        now = timezone.now()
        if Job.objects.filter(pk=self.pk, state=Job.State.QUEUED).update(
            state=Job.State.CANCELLED, cancel_requested=True, finished_at=now, error="Cancelled before it started."
        ):
            _audit_outcome([self.pk], Job.State.CANCELLED)
            self.refresh_from_db()
            return self.state
        Job.objects.filter(pk=self.pk, state=Job.State.RUNNING).update(cancel_requested=True)
        self.refresh_from_db()
        return self.state

    @classmethod
    def find_interrupted(cls):
        """Jobs still `running` whose worker has stopped beating are interrupted;
        return the ids of those marked now."""
        timeout = timedelta(seconds=settings.DOCKYARD_HEARTBEAT_TIMEOUT)
        now = timezone.now()
        stale = list(cls.objects.filter(state=cls.State.RUNNING, heartbeat_at__lt=now - timeout).values_list("pk", flat=True))
        marked = []
        for pk in stale:
            if cls.objects.filter(pk=pk, state=cls.State.RUNNING, heartbeat_at__lt=now - timeout).update(
                state=cls.State.INTERRUPTED,
                finished_at=now,
                error="The worker running this job stopped without finishing it (no heartbeat for "
                f"{settings.DOCKYARD_HEARTBEAT_TIMEOUT} s). Its output up to then is kept; retry to run it again.",
            ):
                marked.append(pk)
        _audit_outcome(marked, cls.State.INTERRUPTED)
        return marked

    @classmethod
    def find_unclaimed(cls, seconds):
        """Queued jobs whose task was last sent more than `seconds` ago and that
        no worker has claimed since: their message may have gone with a Redis
        that lost its data. (Jobs from before dispatches were noted count from
        when they were queued.)"""
        cutoff = timezone.now() - timedelta(seconds=seconds)
        return cls.objects.alias(sent=Coalesce("dispatched_at", "queued_at")).filter(
            state=cls.State.QUEUED, sent__lt=cutoff)


def _audit_outcome(job_ids, state):
    """A job's audit entry follows the job until it ends."""
    if job_ids:
        # Only the job's own entry is still queued or running; a cancel's entry says "ok".
        AuditEntry.objects.filter(job_id__in=job_ids, outcome__in=(Job.State.QUEUED, Job.State.RUNNING)).update(
            outcome=state)


class LogChunk(models.Model):
    """Up to a thousand of a job's output lines, compressed: images/jobs/logstore.py
    says how, and is the only code that reads or writes them."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log_chunks")
    first_seq = models.IntegerField()
    last_seq = models.IntegerField()
    line_count = models.IntegerField()
    first_ms = models.BigIntegerField(help_text="When the first line arrived, in ms since the epoch.")
    data = models.BinaryField()

    class Meta:
        ordering = ["job", "first_seq"]
        constraints = [models.UniqueConstraint(fields=["job", "first_seq"], name="unique_log_chunk")]
        indexes = [models.Index(fields=["job", "last_seq"], name="log_chunk_last_seq")]

    def __str__(self):
        return f"{self.job_id}:{self.first_seq}-{self.last_seq}"


class ApiToken(models.Model):
    """A bearer token for scripts; only its hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, help_text="The first characters, to tell tokens apart.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(token):
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name):
        """Create a token; return (ApiToken, the token text), the text shown only now."""
        token = "dky_" + secrets.token_urlsafe(32)
        return cls.objects.create(user=user, name=name, prefix=token[:8], digest=cls.hash(token)), token

    @classmethod
    def user_for(cls, token):
        found = cls.objects.select_related("user").filter(digest=cls.hash(token), user__is_active=True).first()
        if found is None:
            return None
        cls.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
        return found.user


# The names the engine gives Docker Hub, and the one its login is kept under (refs.registry_of's).
DOCKER_HUB_HOSTS = {"registry-1.docker.io": "docker.io", "index.docker.io": "docker.io"}


class Registry(models.Model):
    """A registry Dockyard logs in to for pushes and private pulls. The password
    is stored encrypted and never shown again."""

    address = models.CharField(max_length=255, unique=True, help_text="host[:port], e.g. 127.0.0.1:5000")
    username = models.CharField(max_length=255)
    password_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["address"]
        verbose_name_plural = "registries"

    def __str__(self):
        return self.address

    def set_password(self, password):
        self.password_encrypted = secrets_box.encrypt(password)

    def auth_config(self):
        return {"username": self.username, "password": secrets_box.decrypt(self.password_encrypted),
                "serveraddress": self.address}

    @classmethod
    def for_reference(cls, reference):
        """The registry a reference's name points at, if Dockyard has its login.
        Host names are case-insensitive, and addresses are stored lowercase."""
        return cls.for_host(registry_of(reference))

    @classmethod
    def for_host(cls, host):
        """The login of a registry host[:port]; BuildKit asks for Docker Hub as
        registry-1.docker.io, which Dockyard keeps as docker.io."""
        host = host.lower()
        return cls.objects.filter(address=DOCKER_HUB_HOSTS.get(host, host)).first()


class BuildSecret(models.Model):
    """A value a Dockerfile mounts with `RUN --mount=type=secret,id=<name>`
    (BuildKit builds only). A builder's own, or shared (no owner) and kept by
    admins. Stored encrypted, write-only: never shown or returned again."""

    NAME_PATTERN = r"[A-Za-z0-9._-]{1,64}"
    # BuildKit's own limit for a secret file (its secretsprovider's MaxSecretSize).
    VALUE_LIMIT = 500 * 1024

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="build_secrets", help_text="Empty for a shared secret.")
    name = models.CharField("id", max_length=64, help_text="What a Dockerfile mounts it by: "
                            "RUN --mount=type=secret,id=<this>.")
    value_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "owner_id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="unique_own_secret"),
            models.UniqueConstraint(fields=["name"], condition=models.Q(owner=None), name="unique_shared_secret"),
        ]

    def __str__(self):
        return self.name if self.owner_id else f"{self.name} (shared)"

    @property
    def shared(self):
        return self.owner_id is None

    def set_value(self, value):
        self.value_encrypted = secrets_box.encrypt(value)

    def value(self):
        return secrets_box.decrypt(self.value_encrypted).encode()


class TagMove(models.Model):
    """A tag came to point at an image: seen in the engine's events (so moves
    made in a terminal count) or made by Dockyard (a rollback)."""

    engine = models.CharField(max_length=31, default="default", db_index=True)
    tag = models.CharField(max_length=600, db_index=True)
    image_id = models.CharField(max_length=80)
    previous_image_id = models.CharField(max_length=80, blank=True)
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=20, help_text="The engine event (tag, pull, load) or 'rollback'.")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.tag} -> {self.image_id[:19]}"

    @classmethod
    def record(cls, tag, image_id, action, by=None, engine="default"):
        """Record that `tag` now points at `image_id` on `engine` (a name), unless it already did.

        The same move is heard more than once: Dockyard records its own tag,
        then the engine's event for it arrives, and a listener being restarted
        overlaps its successor. Reading the last move and inserting is
        therefore one step, taken by one caller at a time for each tag; two
        callers checking at once would both find nothing and both insert.
        (What makes the move true, the engine's tag, is held together with its
        record by images.lifecycle.tags.tag_lock, not by the database.)"""
        with transaction.atomic(using=cls.objects.db):
            _hold_tag_history(engine, tag)
            last = cls.objects.filter(engine=engine, tag=tag).first()
            if last is not None and last.image_id == image_id:
                return None
            return cls.objects.create(engine=engine, tag=tag, image_id=image_id, action=action, by=by,
                                      previous_image_id=last.image_id if last else "")


def _hold_tag_history(engine, tag):
    """Hold one tag's history until the transaction ends. SQLite needs nothing:
    its transactions begin IMMEDIATE (settings), so a writer already holds the
    whole database. PostgreSQL locks rows, and a tag with no move yet has no
    row, so the hold is an advisory lock on the tag's name."""
    connection = connections[TagMove.objects.db]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"tag-move {engine} {tag}"])


class Access(models.Model):
    """No table: it only carries Dockyard's permissions, which
    images.accounts.roles gathers into the viewer, builder and admin groups."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = list(PERMISSIONS.items())
        verbose_name = "Dockyard access"


class EngineRole(models.Model):
    """A role on one engine, on top of the user's global role: viewer on
    production, builder on staging."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="engine_roles")
    engine = models.CharField(max_length=31, help_text="A DOCKYARD_ENGINES name.")
    role = models.CharField(max_length=10, choices=[(role, role) for role in ROLES])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "engine"], name="one_role_per_user_and_engine")]
        ordering = ["engine", "user"]

    def __str__(self):
        return f"{self.user} is {self.role} on {self.engine}"


class AuditEntry(models.Model):
    """Who changed what, when, and how it went. A job's entry is written when the
    job is asked for and its outcome filled in when the job ends."""

    at = models.DateTimeField("when", default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField("who", max_length=150, help_text="Kept when the account is deleted.")
    action = models.CharField(max_length=40, db_index=True)
    target = models.CharField(max_length=600, blank=True)
    outcome = models.CharField(max_length=20, db_index=True)
    engine = models.CharField(max_length=31, default="default", db_index=True,
                              help_text="The engine the action was asked of.")
    detail = models.TextField(blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries")
    address = models.GenericIPAddressField(null=True, blank=True)
    via = models.CharField(max_length=10, blank=True, help_text="web, api (with a session), token, or cli (manage.py).")

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.target} {self.outcome}"


class LayerIndex(models.Model):
    """The entries of one layer, read once from a save stream and shared by every
    image that holds the layer (images.files.entries stores them)."""

    diff_id = models.CharField(max_length=80, unique=True)
    entry_count = models.IntegerField()
    total_size = models.BigIntegerField(help_text="The sum of its files' sizes.")
    tar_size = models.BigIntegerField(help_text="Bytes of the layer's tar in a save stream.")
    head_digest = models.CharField(
        max_length=64, help_text="sha256 of the tar's first 64 KiB, to know the layer in a save stream before the "
                                 "stream's manifest (at its end) says which it is.")
    notes = models.JSONField(default=list, blank=True, help_text="What the caps left out.")
    entries = models.BinaryField()
    indexed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "layer indexes"

    def __str__(self):
        return f"{self.diff_id[:19]} ({self.entry_count} entries)"


class ImageIndex(models.Model):
    """An indexed image: its layers in order, what built each, and the summary
    computed when it was indexed (files, wasted space)."""

    image_id = models.CharField(max_length=80, unique=True)
    diff_ids = models.JSONField(default=list)
    chain_id = models.CharField(max_length=80, blank=True, db_index=True,
                                help_text="The OCI chain id of its top layer: which images stand on it.")
    layers = models.JSONField(default=list, help_text="Per layer: created_by, created, comment from its config.")
    summary = models.JSONField(default=dict)
    checkpoint = models.BinaryField(
        blank=True, default=b"", help_text="Its layers stacked (images.files.filesystem), for an image built on it "
                                            "to carry the summary on from instead of stacking them all again.")
    indexed_at = models.DateTimeField(default=timezone.now)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name_plural = "image indexes"

    def __str__(self):
        return self.image_id[:19]


class Provenance(models.Model):
    """What a Dockyard build was made from, recorded by the worker when the build
    started (images.builds.provenance): who, when and which job are the job's own."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="provenance")
    source = models.JSONField(default=dict, help_text="kind (dockerfile, upload, directory or git) and what "
                                                      "identifies it: a digest, a path, a URL and its commit.")
    dockerfile_sha256 = models.CharField(max_length=71, blank=True,
                                         help_text="Of the Dockerfile's text as sent; empty for a git context, "
                                                   "which the engine clones itself.")
    build_args = models.JSONField(default=dict, blank=True)
    secret_ids = models.JSONField(default=list, blank=True, help_text="The build secrets it mounted, by id only.")
    target = models.CharField(max_length=200, blank=True)
    builder = models.CharField(max_length=20)
    bases = models.JSONField(default=list, blank=True,
                             help_text="Each FROM and COPY --from of an image: instruction, line, reference, "
                                       "image_id, repo_digest, and when or why not it was resolved.")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "provenance records"

    def __str__(self):
        return f"provenance of job {self.job_id}"


class DiskSample(models.Model):
    """An engine's disk usage at one moment, as `docker system df` sums it up
    (images.monitoring.disk), taken by celery beat every DOCKYARD_DISK_SAMPLE_MINUTES."""

    engine = models.CharField(max_length=31)
    at = models.DateTimeField(default=timezone.now)
    images_count = models.IntegerField()
    images_active = models.IntegerField()
    images_size = models.BigIntegerField(help_text="Bytes of every layer, shared ones counted once.")
    images_reclaimable = models.BigIntegerField()
    containers_count = models.IntegerField()
    containers_active = models.IntegerField()
    containers_size = models.BigIntegerField(help_text="Bytes of the containers' writable layers.")
    containers_reclaimable = models.BigIntegerField()
    volumes_count = models.IntegerField()
    volumes_active = models.IntegerField()
    volumes_size = models.BigIntegerField()
    volumes_reclaimable = models.BigIntegerField()
    build_cache_count = models.IntegerField()
    build_cache_active = models.IntegerField()
    build_cache_size = models.BigIntegerField(help_text="Bytes of the records not shared with images.")
    build_cache_reclaimable = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["engine", "at"])]

    def __str__(self):
        return f"{self.engine} {self.at:%Y-%m-%d %H:%M}"


class RetentionRule(models.Model):
    """What to keep of the repositories whose names match a glob; the tags of
    those repositories that no rule keeps may go. Or, a dangling rule: the
    dangling images older than D days may go (images.lifecycle.retention)."""

    class Kind(models.TextChoices):
        TAGS = "tags", "Keep tags of repositories"
        DANGLING = "dangling", "Let dangling images older than D days go"

    engine = models.CharField(max_length=31, default="default", db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TAGS)
    repository_pattern = models.CharField(
        max_length=255, blank=True,
        help_text="A glob the whole repository name (without the tag) matches: * any characters but /, ** any, "
                  "? one but /, [a-z] one of a set. Empty for a dangling rule.")
    keep_last = models.PositiveIntegerField(null=True, blank=True, help_text="Keep the newest N tags.")
    keep_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Keep tags whose image was made or tag moved in the last D days; of a "
                                         "dangling rule, the dangling images made in the last D days (older go).")
    keep_pattern = models.CharField(max_length=255, blank=True,
                                    help_text="Keep tags whose whole name matches this regular expression.")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"rule {self.pk}: {self.governs}"

    @property
    def governs(self):
        return "dangling images" if self.kind == self.Kind.DANGLING else self.repository_pattern

    @property
    def keeps(self):
        """What it keeps, in words."""
        if self.kind == self.Kind.DANGLING:
            return f"those made in the last {self.keep_days} day{'s' if self.keep_days != 1 else ''} (older go)"
        parts = []
        if self.keep_last is not None:
            parts.append(f"the newest {self.keep_last} tag{'s' if self.keep_last != 1 else ''}")
        if self.keep_days is not None:
            parts.append(f"tags from the last {self.keep_days} day{'s' if self.keep_days != 1 else ''}")
        if self.keep_pattern:
            parts.append(f"tags matching {self.keep_pattern}")
        return ", ".join(parts) or "nothing"


class ImagePin(models.Model):
    """An image no retention rule may remove, pinned on its page."""

    engine = models.CharField(max_length=31, default="default")
    image_id = models.CharField(max_length=80)
    pinned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    pinned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["engine", "image_id"], name="one_pin_per_image")]

    def __str__(self):
        return f"pin of {self.image_id} on {self.engine}"


class QuarantinedImage(models.Model):
    """An image saved (`docker save`) before a removal, to be loaded back within
    DOCKYARD_UNDO_HOURS (images.lifecycle.quarantine)."""

    class State(models.TextChoices):
        KEPT = "kept"
        NOT_KEPT = "not kept"  # larger than the whole cap, or the save failed: removed without a copy
        DROPPED = "dropped"  # its file went to make room, or its time was up
        RESTORED = "restored"

    engine = models.CharField(max_length=31, default="default")
    image_id = models.CharField(max_length=80, db_index=True)
    tags = models.JSONField(default=list)
    size = models.BigIntegerField(default=0, help_text="Bytes of the saved archive.")
    file = models.CharField(max_length=255, blank=True, help_text="The archive's name in the quarantine directory.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.KEPT, db_index=True)
    reason = models.CharField(max_length=300, blank=True)
    saved_at = models.DateTimeField(default=timezone.now, db_index=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-saved_at", "-pk"]

    def __str__(self):
        return f"{self.image_id} ({self.state})"


class RepositorySample(models.Model):
    """One repository's images at one moment, taken with each DiskSample
    (images.monitoring.repositories): the trend of its size on the Disk page."""

    engine = models.CharField(max_length=31)
    at = models.DateTimeField(default=timezone.now)
    repository = models.CharField(max_length=255)
    tags = models.IntegerField()
    images = models.IntegerField()
    size = models.BigIntegerField(help_text="Bytes of its images' layers, each once.")
    alone = models.BigIntegerField(help_text="Bytes of the layers no image outside it holds: what removing all of "
                                             "its images would free.")

    class Meta:
        indexes = [models.Index(fields=["engine", "repository", "at"]), models.Index(fields=["engine", "at"])]

    def __str__(self):
        return f"{self.repository} on {self.engine} {self.at:%Y-%m-%d %H:%M}"
class BaseReference(models.Model):
    """A base image reference that a recent Dockyard build used (a FROM or COPY
    --from), as the periodic check (images.bases.checks) last found it: its
    registry digest and the image its name gives on the engine."""

    engine = models.CharField(max_length=31)
    reference = models.CharField(max_length=600)
    registry_digest = models.CharField(max_length=80, blank=True, help_text="The manifest digest the registry "
                                                                            "gave; empty if it was not asked.")
    digest_seen_at = models.DateTimeField(null=True, blank=True, help_text="When this digest was first seen.")
    image_id = models.CharField(max_length=80, blank=True, help_text="The image the name gives on the engine.")
    image_seen_at = models.DateTimeField(null=True, blank=True, help_text="When the name was first seen there.")
    checked_at = models.DateTimeField(default=timezone.now)
    error = models.TextField(blank=True, help_text="Why the last check got no digest, if it did not.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["engine", "reference"], name="unique_base_reference")]
        ordering = ["engine", "reference"]

    def __str__(self):
        return f"{self.reference} on {self.engine}"


class BaseUpdate(models.Model):
    """An image a Dockyard build made whose base has moved since: the registry
    gives its reference another digest, or the engine another image. Written by
    the periodic check, all of an engine's at once."""

    engine = models.CharField(max_length=31)
    image_id = models.CharField(max_length=80, help_text="The image built on the old base.")
    build = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+", help_text="The build that made it.")
    reference = models.CharField(max_length=600, help_text="The base, as the Dockerfile names it.")
    old_digest = models.CharField(max_length=80, blank=True)
    new_digest = models.CharField(max_length=80, blank=True)
    old_image_id = models.CharField(max_length=80, blank=True)
    new_image_id = models.CharField(max_length=80, blank=True)
    noticed_at = models.DateTimeField(help_text="When the check first saw the new digest or image.")

    class Meta:
        indexes = [models.Index(fields=["engine", "image_id"])]
        ordering = ["reference"]

    def __str__(self):
        return f"{self.image_id[:19]}: {self.reference} moved"


class RebuildBatch(models.Model):
    """The images built on one base (directly or through others), rebuilt from
    their recipes in order: each after what it is built on (images.bases.batches)."""

    class State(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed", "failed (some)"

    engine = models.CharField(max_length=31)
    base_image_id = models.CharField(max_length=80)
    base_name = models.CharField(max_length=600, blank=True, help_text="The base's reference, for titles.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.RUNNING, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "rebuild batches"

    def __str__(self):
        return f"rebuild of {self.base_name or self.base_image_id[:19]}'s dependents"

    def get_absolute_url(self):
        from images import engines

        return engines.reverse_on(self.engine, "batches-detail", [self.pk])


class RebuildItem(models.Model):
    """One recipe of a batch: rebuilt once every item it needs has succeeded,
    skipped if one of them did not."""

    class State(models.TextChoices):
        WAITING = "waiting"
        STARTED = "started"  # its job says how it goes
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped"

    FINAL_STATES = (State.SUCCEEDED, State.FAILED, State.SKIPPED)

    batch = models.ForeignKey(RebuildBatch, on_delete=models.CASCADE, related_name="items")
    position = models.IntegerField(help_text="Its place in the topological order, from 1.")
    level = models.IntegerField(help_text="1 for an image built on the base itself, 2 on one of those, …")
    name = models.CharField(max_length=600)
    recipe = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+", help_text="The build rebuilt.")
    old_image_id = models.CharField(max_length=80)
    needs = models.JSONField(default=list, help_text="The positions of the items it is built on.")
    pull = models.BooleanField(default=False, help_text="Pull its base first: the base is a registry's.")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=12, choices=State.choices, default=State.WAITING)
    reason = models.TextField(blank=True, help_text="Why it failed or was skipped.")

    class Meta:
        ordering = ["batch", "position"]
        constraints = [models.UniqueConstraint(fields=["batch", "position"], name="unique_rebuild_position")]

    def __str__(self):
        return f"{self.batch_id}.{self.position} {self.name}"


# Webhooks (images.hooks) --------------------------------------------------------

class HookSource(models.Model):
    """A repository's push hook: a push to `branch` of `repository`, sent by
    GitHub or GitLab to /api/hooks/git/<id> and signed with the secret, rebuilds
    the recipe (a build job) as `run_as`. The secret is stored encrypted and
    shown once, when the hook is made."""

    class Provider(models.TextChoices):
        GITHUB = "github", "GitHub"
        GITLAB = "gitlab", "GitLab"

    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=10, choices=Provider.choices)
    repository = models.CharField(max_length=255, help_text="owner/name as the provider names it "
                                                            "(GitHub's full_name, GitLab's path_with_namespace).")
    branch = models.CharField(max_length=255, help_text="The branch whose pushes rebuild, e.g. main.")
    recipe = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="hook_sources",
                               help_text="The build job whose recipe a push builds again.")
    run_as = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               help_text="Whose rebuild it is: their role and job limit apply.")
    secret_encrypted = models.TextField()
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return f"{self.name} ({self.get_provider_display()} {self.repository} {self.branch})"

    def set_secret(self, secret):
        self.secret_encrypted = secrets_box.encrypt(secret)

    def secret(self):
        return secrets_box.decrypt(self.secret_encrypted)


class HookReceipt(models.Model):
    """A delivery a hook source accepted the signature of, kept by its delivery
    id (GitHub's X-GitHub-Delivery, GitLab's X-Gitlab-Event-UUID) so that the
    same delivery sent again is refused."""

    source = models.ForeignKey(HookSource, on_delete=models.CASCADE, related_name="receipts")
    delivery_id = models.CharField(max_length=100)
    event = models.CharField(max_length=50)
    ref = models.CharField(max_length=255, blank=True)
    commit = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=300, help_text="What was done: the job started, or why nothing was.")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["source", "delivery_id"], name="unique_hook_delivery")]

    def __str__(self):
        return f"{self.source_id}:{self.delivery_id}"


class WebhookReceiver(models.Model):
    """A URL told of Dockyard's events (images.hooks.outbound.EVENTS) with a
    JSON body signed by the secret (X-Dockyard-Signature). Its host must be in
    DOCKYARD_WEBHOOK_HOSTS."""

    class Format(models.TextChoices):
        GENERIC = "generic", "Generic JSON (the event and its data)"
        SLACK = "slack", "Slack-compatible (text and blocks)"

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.GENERIC,
                              help_text="The body's shape; both are signed.")
    events = models.JSONField(default=list, help_text="The events it is sent.")
    secret_encrypted = models.TextField()
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name

    def set_secret(self, secret):
        self.secret_encrypted = secrets_box.encrypt(secret)

    def secret(self):
        return secrets_box.decrypt(self.secret_encrypted)


class WebhookDelivery(models.Model):
    """One event sent to one receiver, with each attempt's outcome."""

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    receiver = models.ForeignKey(WebhookReceiver, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=50)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.IntegerField(default=0)
    last_status = models.IntegerField(null=True, blank=True, help_text="The receiver's HTTP status, last attempt.")
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"{self.event} to {self.receiver_id} ({self.state})"
class OidcIdentity(models.Model):
    """Who an account is at the team's identity provider: its issuer and subject,
    the key it signs in by (never its e-mail or name, which can change hands),
    and the roles the provider's groups gave it at its last sign-in, so that the
    next sign-in takes back those and no role an admin gave by hand."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identity")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    claimed_roles = models.JSONField(default=dict, blank=True,
                                     help_text='{"": global role, engine: role}, as the groups gave them.')
    groups = models.JSONField(default=list, blank=True, help_text="The groups the provider named at the last sign-in.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="one_account_per_oidc_subject")]
        verbose_name = "OpenID Connect identity"

    def __str__(self):
        return f"{self.user} is {self.subject} at {self.issuer}"

"""Retention: the rules, their dry run, applying it, the quarantine and restore, and pins."""

from datetime import datetime
from typing import Literal

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from images.api.auth import allowed
from images.api.errors import answer, form_errors
from images.api.fields import FormOrJson, ImageId
from images.api.schemas import Job, StrList, errors
from images.lifecycle import pins, quarantine, retention
from images.lifecycle import retention_apply as applying
from images.lifecycle.forms import RetentionRuleForm
from images.lifecycle.tags import ActionRefused
from images.models import QuarantinedImage, RetentionRule

router = Router(tags=["retention"])
PIN = "pin images"


class Rule(Schema):
    id: int
    kind: Literal["tags", "dangling"] = Field(description="tags: what to keep of the repositories the glob "
                                                          "matches; dangling: dangling images older than D days go.")
    repository_pattern: str = Field(description="A glob the whole repository name matches: * any characters but /, "
                                                "** any, ? one but /, [a-z] one of a set. Empty for a dangling rule.")
    keep_last: int | None = Field(description="The newest N tags of each repository are kept.")
    keep_days: int | None = Field(description="Tags whose image was made, or which moved, in the last D days are "
                                              "kept; of a dangling rule, the dangling images made in them.")
    keep_pattern: str = Field(description="Tags whose whole name matches this regular expression are kept.")
    keeps: str = Field(description="What it keeps, in words.")

    @staticmethod
    def resolve_id(rule):
        return rule.pk


class RuleFields(Schema):
    kind: Literal["tags", "dangling"] = "tags"
    repository_pattern: str = ""
    keep_last: int | None = None
    keep_days: int | None = None
    keep_pattern: str = ""


class GoingImage(Schema):
    image_id: str
    tags: list[str]
    size: int = Field(description="The image's size, its shared layers included.")
    rule_ids: list[int] = Field(description="The rules that let its tags go.")


class GoingTag(Schema):
    tag: str
    image_id: str
    rule_id: int


class KeptImage(Schema):
    image_id: str
    tags: list[str]
    reason: str = Field(description="Why it stays: a container uses it, pinned, or the base of an image that stays.")


class DryRun(Schema):
    rule_ids: list[int]
    tags_checked: int = Field(description="Tags of the repositories the rules govern.")
    images: list[GoingImage] = Field(description="Images removed, with every tag of theirs.")
    untagged: list[GoingTag] = Field(description="Tags removed from images that stay.")
    kept: list[KeptImage]
    bytes_freed: int = Field(description="Bytes the removal frees: the layers of the images going that no image "
                                         "staying holds, each once.")


class ApplyFields(Schema):
    image_ids: StrList = Field(default_factory=list, description="The dry run's images to remove.")
    tags: StrList = Field(default_factory=list, description="The dry run's tags (of images that stay) to remove.")


class Quarantined(Schema):
    id: int
    image_id: str
    tags: list[str]
    size: int = Field(description="Bytes of its archive.")
    state: str = Field(description="kept (it can be restored), not kept, dropped or restored")
    reason: str
    saved_at: datetime
    job: int | None

    @staticmethod
    def resolve_id(record):
        return record.pk

    @staticmethod
    def resolve_job(record):
        return record.job_id


class Pin(Schema):
    image_id: str
    pinned: bool


@router.get("/retention/rules", response={200: list[Rule], **errors()}, auth=allowed("prune"))
def retention_rules(request):
    """The retention rules of the engine."""
    return retention.rules_of(request.engine_name)


@router.post("/retention/rules", response={201: Rule, **errors(400)}, auth=allowed("prune"))
def retention_rule_add(request, fields: FormOrJson[RuleFields]):
    """Add a retention rule.

    A repository glob and at least one of keep_last, keep_days and keep_pattern; or kind "dangling" and keep_days
    (the dangling images older go). A glob with characters no repository name has, a tag pattern that is not a
    regular expression, or one that takes too long to match (it backtracks without end), is refused with 400.
    """
    form = RetentionRuleForm(fields.dict())
    if not form.is_valid():
        return form_errors("No rule was added.", form)
    data = form.cleaned_data
    try:
        rule = retention.add_rule(request.user, request.engine_name, data["repository_pattern"], data["keep_last"],
                                  data["keep_days"], data["keep_pattern"], data["kind"])
    except ActionRefused as refused:
        return answer(400, f"No rule was added: {refused}", fields={})
    return Status(201, rule)


@router.delete("/retention/rules/{int:pk}", response={204: None, **errors(404)}, auth=allowed("prune"))
def retention_rule_delete(request, pk: int):
    """Delete a retention rule."""
    retention.delete_rule(request.user, get_object_or_404(RetentionRule, pk=pk, engine=request.engine_name))
    return Status(204, None)


def _dry_run(found):
    return {"rule_ids": found.rule_ids, "tags_checked": found.tags_checked, "images": found.images,
            "untagged": found.untagged, "kept": found.kept, "bytes_freed": found.bytes_freed}


@router.get("/retention/dry-run", response={200: DryRun, **errors(400)}, auth=allowed("prune"))
def retention_dry_run(request):
    """What the rules would remove now.

    Every tag and image that would go, with the rule that lets it go, what stays though the rules let it go, and
    the exact bytes freed.
    """
    try:
        return _dry_run(retention.plan(request.engine, retention.rules_of(request.engine_name)))
    except ActionRefused as refused:
        return answer(400, f"No dry run: {refused}", fields={})


@router.post("/retention/apply", response={201: Job, **errors(400, 409, 429)}, auth=allowed("prune"))
def retention_apply(request, fields: FormOrJson[ApplyFields]):
    """Apply the rules.

    Removes, in a job, those of `image_ids` and `tags` (from a dry run) that the rules still let go; each image
    is saved to the quarantine first. Answers 201 with the job.
    """
    found = retention.plan(request.engine, retention.rules_of(request.engine_name))
    return Status(201, applying.start_apply(request.user, found, fields.image_ids, fields.tags))


@router.get("/retention/quarantine", response={200: list[Quarantined], **errors()}, auth=allowed("prune"))
def quarantine_list(request):
    """The quarantine: images removed by rules, newest first (the last 500)."""
    return list(QuarantinedImage.objects.filter(engine=request.engine_name)[:500])


@router.post("/retention/quarantine/{int:pk}/restore", response={200: Quarantined, **errors(404, 409)},
             auth=allowed("prune"))
def quarantine_restore(request, pk: int):
    """Restore a quarantined image.

    Loads it back with the same image id and tags. 409 when it is not kept (dropped, restored, never kept).
    """
    record = get_object_or_404(QuarantinedImage, pk=pk, engine=request.engine_name)
    return quarantine.restore(request.engine, record, request.user)


@router.put("/images/{imageid:image_id}/pin", response={200: Pin, **errors(404)}, auth=allowed("tag", PIN))
def image_pin(request, image_id: ImageId):
    """Pin an image: no retention rule removes it."""
    return {"image_id": pins.pin(request.user, request.engine, image_id), "pinned": True}


@router.delete("/images/{imageid:image_id}/pin", response={200: Pin, **errors(404)}, auth=allowed("tag", PIN))
def image_unpin(request, image_id: ImageId):
    """Unpin an image."""
    return {"image_id": pins.unpin(request.user, request.engine, image_id), "pinned": False}

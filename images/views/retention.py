"""The Retention page: the rules, their dry run, applying it, and the quarantine
with its restore; and the pin on an image's page."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from images.accounts.roles import requires
from images.jobs import control
from images.lifecycle import pins, quarantine, retention, retention_apply
from images.lifecycle.forms import RetentionRuleForm
from images.lifecycle.tags import ActionRefused
from images.models import QuarantinedImage, RetentionRule
from images.refs import short_id
from images.sizes import human_size


@requires("prune")
def retention_page(request):
    """The rules, a form for a new one, the dry run of them all and the quarantine."""
    form = RetentionRuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rule = retention.add_rule(request.user, request.engine.name, data["repository_pattern"],
                                      data["keep_last"], data["keep_days"], data["keep_pattern"], data["kind"])
        except ActionRefused as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(request, f"Rule {rule.pk} added: of {rule.governs}, keep {rule.keeps}.")
            return redirect("retention")
    rules = retention.rules_of(request.engine.name)
    try:
        plan, refusal = retention.plan(request.engine, rules), ""
    except ActionRefused as refused:
        plan, refusal = None, str(refused)
    return render(request, "disk/retention.html", {
        "form": form, "rules": rules, "plan": plan, "refusal": refusal,
        "quarantine": QuarantinedImage.objects.filter(engine=request.engine.name)[:100],
        "held": quarantine.held(request.engine.name), "cap": settings.DOCKYARD_QUARANTINE_MAX,
        "undo_hours": settings.DOCKYARD_UNDO_HOURS,
    }, status=400 if request.method == "POST" else 200)


@require_POST
@requires("prune")
def rule_delete(request, pk):
    rule = get_object_or_404(RetentionRule, pk=pk, engine=request.engine.name)
    retention.delete_rule(request.user, rule)
    messages.success(request, f"Rule {pk} deleted.")
    return redirect("retention")


@require_POST
@requires("prune")
def retention_apply_view(request):
    """Remove what the dry run listed (its ids and tags come with the form), in a job."""
    found = retention.plan(request.engine, retention.rules_of(request.engine.name))
    try:
        job = retention_apply.start_apply(request.user, found, request.POST.getlist("image"),
                                          request.POST.getlist("tag"))
    except (ActionRefused, control.JobLimitReached) as refused:
        messages.error(request, f"Nothing removed: {refused}")
        return redirect("retention")
    return redirect(job)


@require_POST
@requires("prune")
def quarantine_restore(request, pk):
    record = get_object_or_404(QuarantinedImage, pk=pk, engine=request.engine.name)
    try:
        quarantine.restore(request.engine, record, request.user)
    except ActionRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Restored {short_id(record.image_id)} ({', '.join(record.tags) or 'untagged'}), "
                                  f"{human_size(record.size)} loaded back.")
    return redirect("retention")


@require_POST
@requires("tag", action="pin images")
def image_pin(request, image_hex):
    """Pin (or with unpin=1, unpin) an image against retention rules."""
    if request.POST.get("unpin"):
        image_id = pins.unpin(request.user, request.engine, image_hex)
        messages.success(request, "Unpinned: retention rules may remove it again.")
    else:
        image_id = pins.pin(request.user, request.engine, image_hex)
        messages.success(request, "Pinned: no retention rule will remove it.")
    return redirect("images-detail", image_id.split(":", 1)[1])

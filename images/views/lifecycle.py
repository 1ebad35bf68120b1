"""Changing images: tags, push, remove, prune, export and import."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from images.accounts.roles import requires
from images.builds import contexts, fetches
from images.catalog import detail
from images.jobs import control
from images.lifecycle import exports, imports, pruning, removal, tags
from images.lifecycle.forms import ImportForm, TagForm
from images.models import TagMove
from images.refs import InvalidReference, hex_id, short_id
from images.responses import StreamingResponse
from images.sizes import human_size


@require_POST
@requires("tag")
def tag_add(request, image_hex):
    image = detail.image_summary(request.engine, image_hex)
    form = TagForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a repository and a tag.")
        return redirect("images-detail", reference=image_hex)
    try:
        repo_tag = tags.normalize_tag(form.cleaned_data["repository"], form.cleaned_data["tag"])
        previous = tags.add_tag(request.engine, image.id, repo_tag, request.user, allow_move=form.cleaned_data["move"])
    except tags.TagTaken as taken:
        return render(request, "images/tag_move_confirm.html", {
            "image_id": image.id, "repo_tag": taken.repo_tag,
            "holder": detail.image_summary(request.engine, taken.holder), "form": form,
        })
    except tags.ActionRefused as refused:
        messages.error(request, f"Not tagged: {refused}")
        return redirect("images-detail", reference=image_hex)
    moved = f" (moved from {short_id(previous)})" if previous else ""
    messages.success(request, f"Tagged {repo_tag}{moved}.")
    return redirect("images-detail", reference=image_hex)


@requires("tag")
def tag_remove(request, image_hex):
    """Confirm, then remove, a tag of the image in the URL."""
    reference = request.POST.get("tag") or request.GET.get("tag", "")
    try:
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            plan = tags.remove_tag(request.engine, image_hex, reference, request.user)
            messages.success(request, plan.describe().replace("Removes", "Removed", 1).replace("is deleted",
                                                                                              "was deleted"))
            if plan.deletes_image:
                return redirect("images-list")
            return redirect("images-detail", reference=hex_id(plan.image_id))
        plan = tags.plan_tag_removal(request.engine, image_hex, reference)
    except tags.ActionRefused as refused:
        messages.error(request, f"Not removed: {refused}")
        return redirect("images-detail", reference=image_hex)
    return render(request, "images/tag_remove_confirm.html", {"plan": plan, "image_hex": image_hex})


@requires("tag")
def tag_rollback(request, move_pk):
    """Confirm, naming the tag and both images, then roll a tag back. The
    confirmation carries the image the tag left from: confirmed twice, or after
    the tag moved elsewhere, it is refused rather than moving the tag again."""
    move = get_object_or_404(TagMove, pk=move_pk, engine=request.engine_name)
    back_to = redirect("images-detail", reference=hex_id(move.previous_image_id or move.image_id))
    try:
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            tags.rollback(request.engine, move, request.user, holder_seen=request.POST.get("from") or None)
            messages.success(request, f"{move.tag} points at {short_id(move.previous_image_id)} again.")
            return back_to
        plan = tags.plan_rollback(request.engine, move)
    except tags.ActionRefused as refused:
        messages.error(request, f"Not rolled back: {refused}")
        return back_to
    return render(request, "images/tag_rollback_confirm.html", {
        "plan": plan, "move": move,
        "holder": detail.image_summary(request.engine, plan.holder) if plan.holder else None,
        "previous": detail.image_summary(request.engine, plan.previous),
    })


@requires("remove")
def image_remove(request):
    """Confirm, then remove, one or more images (ids from the list or an image page)."""
    ids = [value for value in request.POST.getlist("image") or request.GET.getlist("image") if value]
    if not ids:
        messages.error(request, "Select at least one image to remove.")
        return redirect("images-list")
    plans = removal.plan_image_removals(request.engine, ids[:removal.MOST_AT_ONCE])
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        removed, refused = removal.remove_images(request.engine, plans, request.user,
                                                 force=request.POST.get("force") == "on")
        if removed:
            messages.success(request, f"Removed {len(removed)} image(s): {', '.join(short_id(i) for i in removed)}.")
        for sentence in refused:
            messages.error(request, f"Not removed: {sentence}")
        return redirect("images-list")
    return render(request, "images/image_remove_confirm.html", {
        "plans": plans, "in_use": any(plan.containers for plan in plans),
        "bytes_freed": removal.bytes_freed(request.engine, plans),
    })


@requires("prune")
def prune(request):
    """The filters, what a prune with them removes and frees; then the prune."""
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            count, reclaimed = pruning.prune(request.engine, request.user, all_unused=request.POST.get("all") == "on",
                                             label=request.POST.get("label", ""))
        except tags.ActionRefused as refused:
            messages.error(request, f"Nothing pruned: {refused}")
            return redirect("images-prune")
        messages.success(request, f"Pruned {count} image(s), reclaiming {human_size(reclaimed)} "
                                  f"({reclaimed:,} bytes).")
        return redirect("images-list")
    all_unused, label = request.GET.get("all") == "on", request.GET.get("label", "")
    try:
        plan, refusal = pruning.plan_prune(request.engine, all_unused, label), ""
    except tags.ActionRefused as refused:
        plan, refusal = None, str(refused)
    return render(request, "images/prune_confirm.html", {
        "plan": plan, "refusal": refusal, "all_unused": all_unused, "label": label[:pruning.LABEL_FILTER_MAX + 1],
    })


@requires("export")
def image_export(request, image_hex):
    """`docker save` of the image with all its tags, streamed to the browser."""
    export = exports.export_image(request.engine, image_hex)
    response = StreamingResponse(export.chunks, content_type="application/x-tar")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


@requires("build")
def image_import(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            return redirect(imports.import_archive(request.user, form.cleaned_data["archive"]))
        except contexts.ContextError as exc:
            form.add_error("archive", str(exc))
        except control.JobLimitReached as exc:
            form.add_error(None, str(exc))
    return render(request, "images/import_form.html", {"form": form})


@require_POST
@requires("push")
def tag_push(request, image_hex):
    repo_tag = request.POST.get("tag", "")
    try:
        return redirect(control.start_checked_push(request.user, repo_tag,
                                                   registry_confirmed=request.POST.get("confirm_registry") == "yes"))
    except control.RegistryNotConfirmed as unconfirmed:
        return render(request, "images/push_confirm.html", {"unconfirmed": unconfirmed, "image_hex": image_hex})
    except (InvalidReference, fetches.FetchRefused) as exc:
        messages.error(request, f"Not pushed: {exc}")
    except control.JobLimitReached as exc:
        messages.error(request, str(exc))
    return redirect("images-detail", reference=image_hex)

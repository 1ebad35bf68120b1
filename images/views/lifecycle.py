"""Changing images: tags, push, remove, prune, export and import."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_POST

from images import contexts, fetches, jobs, lifecycle, listing
from images.engine import get_engine
from images.lifecycle_forms import ImportForm, TagForm
from images.models import TagMove
from images.refs import InvalidReference, parse_reference, short_id
from images.roles import requires
from images.views.streaming import StreamingResponse


@require_POST
@requires("tag")
def tag_add(request, image_hex):
    engine = get_engine()
    image_id = engine.inspect_image(image_hex)["Id"]
    form = TagForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a repository and a tag.")
        return redirect("images-detail", reference=image_hex)
    try:
        repo_tag = lifecycle.normalize_tag(form.cleaned_data["repository"], form.cleaned_data["tag"])
        previous = lifecycle.add_tag(engine, image_id, repo_tag, request.user, allow_move=form.cleaned_data["move"])
    except lifecycle.TagTaken as taken:
        return render(request, "images/tag_move_confirm.html", {
            "image_id": image_id, "repo_tag": taken.repo_tag, "holder": engine.inspect_image(taken.holder),
            "form": form,
        })
    except lifecycle.ActionRefused as refused:
        messages.error(request, f"Not tagged: {refused}")
        return redirect("images-detail", reference=image_hex)
    moved = f" (moved from {short_id(previous)})" if previous else ""
    messages.success(request, f"Tagged {repo_tag}{moved}.")
    return redirect("images-detail", reference=image_hex)


@requires("tag")
def tag_remove(request, image_hex):
    """Confirm, then remove, a tag of the image in the URL."""
    reference = request.POST.get("tag") or request.GET.get("tag", "")
    engine = get_engine()
    try:
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            plan = lifecycle.remove_tag(engine, image_hex, reference, request.user)
            messages.success(request, plan.describe().replace("Removes", "Removed", 1).replace("is deleted",
                                                                                              "was deleted"))
            if plan.deletes_image:
                return redirect("images-list")
            return redirect("images-detail", reference=plan.image_id.split(":", 1)[1])
        plan = lifecycle.plan_tag_removal(engine, image_hex, reference)
    except lifecycle.ActionRefused as refused:
        messages.error(request, f"Not removed: {refused}")
        return redirect("images-detail", reference=image_hex)
    return render(request, "images/tag_remove_confirm.html", {"plan": plan, "image_hex": image_hex})


@require_POST
@requires("tag")
def tag_rollback(request, move_pk):
    move = get_object_or_404(TagMove, pk=move_pk)
    try:
        lifecycle.rollback(get_engine(), move, request.user)
        messages.success(request, f"{move.tag} points at {short_id(move.previous_image_id)} again.")
    except lifecycle.ActionRefused as refused:
        messages.error(request, f"Not rolled back: {refused}")
    return redirect("images-detail", reference=(move.previous_image_id or move.image_id).split(":", 1)[1])


@requires("remove")
def image_remove(request):
    """Confirm, then remove, one or more images (ids from the list or an image page)."""
    ids = [value for value in request.POST.getlist("image") or request.GET.getlist("image") if value]
    if not ids:
        messages.error(request, "Select at least one image to remove.")
        return redirect("images-list")
    engine = get_engine()
    plans = lifecycle.plan_image_removals(engine, ids[:200])
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        removed, refused = lifecycle.remove_images(engine, plans, request.user, force=request.POST.get("force") == "on")
        if removed:
            messages.success(request, f"Removed {len(removed)} image(s): {', '.join(short_id(i) for i in removed)}.")
        for sentence in refused:
            messages.error(request, f"Not removed: {sentence}")
        return redirect("images-list")
    return render(request, "images/image_remove_confirm.html", {
        "plans": plans, "in_use": any(plan.containers for plan in plans),
        "total": sum(plan.size for plan in plans),
    })


@requires("prune")
def prune(request):
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            count, reclaimed = lifecycle.prune(get_engine(), request.user, all_unused=request.POST.get("all") == "on",
                                               label=request.POST.get("label", "").strip())
        except lifecycle.ActionRefused as refused:
            messages.error(request, f"Nothing pruned: {refused}")
            return redirect("images-prune")
        messages.success(request, f"Pruned {count} image(s), reclaiming {filesizeformat(reclaimed)} "
                                  f"({reclaimed:,} bytes).")
        return redirect("images-list")
    engine = get_engine()
    rows = listing.image_rows(engine.list_images(), engine.list_containers())
    dangling = {row.image_id: row for row in rows if row.dangling and not row.containers}
    unused = {row.image_id: row for row in rows if not row.containers}
    return render(request, "images/prune_confirm.html", {
        "dangling": list(dangling.values()), "unused": list(unused.values()),
        "dangling_size": sum(row.size for row in dangling.values()),
    })


@requires("export")
def image_export(request, image_hex):
    """`docker save` of the image with all its tags, streamed to the browser."""
    engine = get_engine()
    data = engine.inspect_image(image_hex)
    names = data.get("RepoTags") or [data["Id"]]
    response = StreamingResponse(engine.save_images(names), content_type="application/x-tar")
    label = names[0].replace("/", "_").replace(":", "_") if data.get("RepoTags") else short_id(data["Id"])
    response["Content-Disposition"] = f'attachment; filename="{label}.tar"'
    return response


@requires("build")
def image_import(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        archive = form.cleaned_data["archive"]
        try:
            stored = contexts.save_upload(archive, kind="tar")
        except contexts.ContextError as exc:
            form.add_error("archive", str(exc))
        else:
            try:
                return redirect(jobs.start_import(request.user, {"archive_file": stored,
                                                                 "archive_name": archive.name}))
            except jobs.JobLimitReached as exc:
                form.add_error(None, str(exc))
    return render(request, "images/import_form.html", {"form": form})


@require_POST
@requires("push")
def tag_push(request, image_hex):
    repo_tag = request.POST.get("tag", "")
    try:
        parse_reference(repo_tag)
        fetches.check_registry(repo_tag)
    except (InvalidReference, fetches.FetchRefused) as exc:
        messages.error(request, f"Not pushed: {exc}")
        return redirect("images-detail", reference=image_hex)
    try:
        return redirect(jobs.start_push(request.user, repo_tag))
    except jobs.JobLimitReached as exc:
        messages.error(request, str(exc))
        return redirect("images-detail", reference=image_hex)

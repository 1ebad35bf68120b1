"""Runs: the Run form of an image, and saving a run's container as an image."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from images.accounts.roles import requires
from images.catalog import detail
from images.jobs import control
from images.jobs.access import job_for
from images.lifecycle import runs
from images.lifecycle.forms import CommitForm, RunForm


@requires("run")
def image_run(request, image_hex):
    """GET: the form, with the image's own command shown; POST: start the run."""
    image = detail.image_summary(request.engine, image_hex)
    form = RunForm(request.POST or None, image=image)
    if request.method == "POST" and form.is_valid():
        try:
            return redirect(control.start_run(request.user, form.cleaned_data["params"]))
        except control.JobLimitReached as exc:
            form.add_error(None, str(exc))
    status = 400 if request.method == "POST" else 200
    return render(request, "images/run_form.html", {"form": form, "image": image, "image_hex": image_hex},
                  status=status)


@require_POST
@requires("run")
def run_commit(request, pk):
    """Save a run's container as an image: the run's owner, or an admin."""
    job = job_for(request.user, pk, "cancel")
    form = CommitForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not saved: " + "; ".join(f"{name}: {' '.join(errors)}"
                                                          for name, errors in form.errors.items()))
        return redirect(job)
    data = form.cleaned_data
    try:
        image_id = runs.commit(job, request.user, data["reference"].strip(), data["message"],
                               data["changes"].splitlines())
    except (runs.CommitRefused, runs.NoContainer) as exc:
        messages.error(request, f"Not saved: {exc}")
        return redirect(job)
    messages.success(request, f"Saved the run's changes as {data['reference'].strip()}.")
    return redirect("images-detail", reference=image_id.split(":", 1)[1])

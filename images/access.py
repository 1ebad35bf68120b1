"""Who may see or change a job. Every view, API endpoint and consumer asks here."""

from django.http import Http404

from images.models import Job


def visible_jobs(user):
    if not user.is_authenticated:
        return Job.objects.none()
    return Job.objects.all()


def get_job_for_user(user, pk):
    job = visible_jobs(user).filter(pk=pk).first()
    if job is None:
        raise Http404("No such job.")
    return job

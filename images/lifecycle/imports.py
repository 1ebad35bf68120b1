"""An image archive (a `docker save` tar) uploaded to be loaded, as a job."""

from images.builds import contexts
from images.jobs import control


def import_archive(user, archive):
    """Keep the upload of a valid ImportForm and start its import job. Raises
    ContextError (an archive that is not a safe tar) before a job is made, and
    JobLimitReached, which leaves nothing kept."""
    stored = contexts.save_upload(archive, kind="tar")
    return control.start_import(user, {"archive_file": stored, "archive_name": archive.name})

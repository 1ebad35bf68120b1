"""The audit log (admins): its entries with the page's filters, and its exports."""

from datetime import datetime

from django.core.paginator import Paginator
from ninja import Query, Router, Schema
from pydantic import Field

from images.accounts import audit
from images.api.auth import allowed
from images.api.schemas import errors
from images.responses import StreamingResponse

router = Router(tags=["audit"])

ENTRIES_PER_PAGE = 100


class AuditFilters(Schema):
    outcome: str = Field("", description="ok, failed, denied, refused, or a job's state.")
    action: str = Field("", description="tag, untag, remove, prune, build, pull, registry-add, …")
    via: str = Field("", description="web, api (a session), token, cli, or auto (Dockyard by itself, e.g. an index after a build).")
    actor: str = Field("", description="The user name of who did it.")
    engine: str = Field("", description="The engine it was asked of.")
    q: str = Field("", description="Words to find in who, target, detail or address.")
    since: datetime | None = Field(None, description="From this time on.")
    until: datetime | None = Field(None, description="Before this time.")


class EntryOut(Schema):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    detail: str
    job: int | None
    address: str | None
    via: str
    engine: str = Field(description="The engine the action was asked of.")

    @staticmethod
    def resolve_actor(entry):
        return entry.actor_name

    @staticmethod
    def resolve_job(entry):
        return entry.job_id


class EntryPage(Schema):
    count: int
    page: int
    pages: int
    entries: list[EntryOut] = Field(description=f"Newest first, {ENTRIES_PER_PAGE} a page.")


def _selected(filters):
    return audit.entries(**filters.dict())


@router.get("/audit", response={200: EntryPage, **errors(400)}, auth=allowed("read_audit"))
def audit_list(request, filters: Query[AuditFilters], page: int = Query(1, ge=1)):
    """The audit log.

    Filtered as on the audit page, a page at a time.
    """
    found = Paginator(_selected(filters), ENTRIES_PER_PAGE).get_page(page)
    return {"count": found.paginator.count, "page": found.number, "pages": max(found.paginator.num_pages, 1),
            "entries": list(found)}


def _export(lines, content_type, filename):
    response = StreamingResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@router.get("/audit/export.csv", response=errors(400), auth=allowed("read_audit"),
            openapi_extra={"responses": {200: {"description": "The filtered entries, oldest first, streamed.",
                                               "content": {"text/csv": {}}}}})
def audit_export_csv(request, filters: Query[AuditFilters]):
    """Export the audit log as CSV.

    The filtered entries, oldest first, as the audit page exports them.
    """
    return _export(audit.csv_lines(_selected(filters).order_by("at", "pk")), "text/csv; charset=utf-8",
                   "dockyard-audit.csv")


@router.get("/audit/export.jsonl", response=errors(400), auth=allowed("read_audit"),
            openapi_extra={"responses": {200: {"description": "The filtered entries, oldest first, streamed.",
                                               "content": {"application/jsonl": {}}}}})
def audit_export_jsonl(request, filters: Query[AuditFilters]):
    """Export the audit log as JSON Lines.

    The filtered entries, oldest first, one JSON object a line.
    """
    return _export(audit.jsonl_lines(_selected(filters).order_by("at", "pk")), "application/jsonl",
                   "dockyard-audit.jsonl")

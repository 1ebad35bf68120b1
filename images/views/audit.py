"""The audit log's own page (admins, or whoever may read it): filters, pages and a CSV export."""

from django.shortcuts import render

from images import engines
from images.accounts import audit
from images.accounts.forms import AuditFilterForm
from images.accounts.roles import requires
from images.views.pages import page_of
from images.responses import StreamingResponse

ENTRIES_PER_PAGE = 100


def _filter_form(request):
    return AuditFilterForm(request.GET or None, actions=audit.values_of("action"),
                           outcomes=audit.values_of("outcome"),
                           engines=sorted({*engines.names(), *audit.values_of("engine")}))


def _filtered(form):
    if form.is_bound and not form.is_valid():
        return None
    return audit.entries(**(form.cleaned_data if form.is_bound else {}))


@requires("read_audit")
def audit_list(request):
    form = _filter_form(request)
    selected = _filtered(form)
    page, query = page_of(request, selected if selected is not None else audit.entries().none(), ENTRIES_PER_PAGE)
    return render(request, "audit/audit_list.html", {"form": form, "page": page, "query": query})


@requires("read_audit")
def audit_export_csv(request):
    """The entries the page's filters select, oldest first, streamed."""
    form = _filter_form(request)
    selected = _filtered(form)
    if selected is None:
        return render(request, "audit/audit_list.html", {"form": form, "page": None, "query": ""}, status=400)
    response = StreamingResponse(audit.csv_lines(selected.order_by("at", "pk")), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="dockyard-audit.csv"'
    return response

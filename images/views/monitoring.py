"""/healthz for load balancers and /metrics for Prometheus."""

import hmac
import ipaddress

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from images.accounts.addresses import client_address
from images.monitoring import health, metrics


@login_not_required
@never_cache
def healthz(request):
    """200 only when every part answers; 503 naming the parts that do not."""
    checks = health.check_all()
    failing = [check for check in checks if not check.ok]
    return JsonResponse({
        "status": "failing" if failing else "ok",
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }, status=503 if failing else 200)


@login_not_required
@never_cache
def metrics_view(request):
    if not _may_scrape(request):
        return HttpResponse("Send Authorization: Bearer <DOCKYARD_METRICS_TOKEN>, or scrape from an address in "
                            "DOCKYARD_METRICS_ALLOW.\n", status=403, content_type="text/plain")
    return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")


def _may_scrape(request):
    token = settings.DOCKYARD_METRICS_TOKEN
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    if token and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].encode(), token.encode()):
        return True
    address = client_address(request)
    return address is not None and any(
        ipaddress.ip_address(address) in network for network in settings.DOCKYARD_METRICS_ALLOW)

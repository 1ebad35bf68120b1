"""Behind a proxy: whose address a request is, for the login throttle and the audit log."""

import ipaddress
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.urls import reverse
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from dashboard.env import parse_networks
from images.accounts import roles
from images.accounts.addresses import client_address, scope_client_address
from images.models import AuditEntry
from tests import live
from tests.conftest import make_user
from tests.test_roles import client_for
from tests.test_security_headers import settings_error

PROXY = "10.0.0.5"


@pytest.mark.parametrize("trusted, peer, forwarded, expected", [
    ([], PROXY, "203.0.113.9", PROXY),  # nobody trusted: the header is anyone's to write
    ([PROXY], PROXY, "203.0.113.9", "203.0.113.9"),
    ([PROXY], PROXY, None, PROXY),  # the proxy's own request (a health check)
    ([PROXY], "192.0.2.1", "203.0.113.9", "192.0.2.1"),  # not the proxy: its header is not believed
    # A client's own X-Forwarded-For comes first; the proxy appends the address it saw.
    ([PROXY], PROXY, "198.51.100.1, 203.0.113.9", "203.0.113.9"),
    # Two proxies in a row, one named as a network.
    (["10.0.0.0/24", "172.16.0.9"], "172.16.0.9", "198.51.100.1, 203.0.113.9, 10.0.0.7", "203.0.113.9"),
    ([PROXY], PROXY, "203.0.113.9, not-an-address", PROXY),  # garbage stops the walk at the proxy
    (["fd00::/8"], "fd00::1", "2001:db8::7", "2001:db8::7"),
    ([PROXY], "::ffff:10.0.0.5", "203.0.113.9", "203.0.113.9"),  # an IPv4 peer seen on a dual-stack socket
    ([PROXY, "203.0.113.0/24"], PROXY, "203.0.113.9", "203.0.113.9"),  # every hop trusted: the first
])
def test_it_walks_x_forwarded_for_from_the_right_past_trusted_proxies(settings, trusted, peer, forwarded,
                                                                      expected):
    settings.DOCKYARD_TRUSTED_PROXIES = [ipaddress.ip_network(value) for value in trusted]
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    request = RequestFactory().get("/", REMOTE_ADDR=peer, **headers)
    assert client_address(request) == expected


def test_it_reads_a_websocket_scope_the_same_way(settings):
    settings.DOCKYARD_TRUSTED_PROXIES = [ipaddress.ip_network(PROXY)]
    # Two X-Forwarded-For headers read as one list, as Django joins them for a request.
    scope = {"client": [PROXY, 50123], "headers": [(b"x-forwarded-for", b"198.51.100.1"),
                                                   (b"X-Forwarded-For", b"203.0.113.9")]}
    assert scope_client_address(scope) == "203.0.113.9"
    assert scope_client_address({"client": None, "headers": []}) is None


def test_it_reads_addresses_and_networks_strictly():
    assert parse_networks("X", " 10.0.0.5, 10.1.0.0/16 ,fd00::/8") == [
        ipaddress.ip_network("10.0.0.5/32"), ipaddress.ip_network("10.1.0.0/16"), ipaddress.ip_network("fd00::/8")]
    assert parse_networks("X", "") == []


@pytest.mark.parametrize("value, reason", [
    ("proxy.example.com", "not an IP address or network"),
    ("10.0.0.300", "not an IP address or network"),
    ("10.0.0.5/8", "has host bits set"),
    ("0.0.0.0/0", "every address"),
    ("::/0", "every address"),
])
def test_it_refuses_to_start_with_a_proxy_setting_it_cannot_read(value, reason):
    code, stderr = settings_error(DOCKYARD_TRUSTED_PROXIES=value)
    assert code != 0 and "DOCKYARD_TRUSTED_PROXIES" in stderr and reason in stderr, stderr
    assert settings_error(DOCKYARD_TRUSTED_PROXIES="10.0.0.5,10.1.0.0/16,fd00::/8")[0] == 0


def behind_proxy(client_ip):
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=client_ip)


def test_failed_logins_behind_the_proxy_lock_out_only_the_address_that_made_them(db, settings):
    settings.DOCKYARD_TRUSTED_PROXIES = [ipaddress.ip_network(PROXY)]
    settings.DOCKYARD_LOGIN_FAILURES = 3
    name = f"admin-{uuid.uuid4().hex[:8]}"
    roles.assign(get_user_model().objects.create_user(name, password="admin-password-1"), roles.ADMIN)
    attacker = behind_proxy("203.0.113.66")
    for _ in range(3):
        attacker.post(reverse("login"), {"username": name, "password": "wrong"})
    refused = attacker.post(reverse("login"), {"username": name, "password": "admin-password-1"})
    assert "Too many failed logins" in refused.content.decode()

    admin = behind_proxy("198.51.100.7")
    assert admin.post(reverse("login"), {"username": name, "password": "admin-password-1"}).status_code == 302
    entries = AuditEntry.objects.filter(action="login", target=name)
    assert set(entries.values_list("address", flat=True)) == {"203.0.113.66"}


def test_a_forged_header_from_outside_changes_nothing(db, settings):
    settings.DOCKYARD_TRUSTED_PROXIES = [ipaddress.ip_network(PROXY)]
    settings.DOCKYARD_LOGIN_FAILURES = 3
    name = f"admin-{uuid.uuid4().hex[:8]}"
    roles.assign(get_user_model().objects.create_user(name, password="admin-password-1"), roles.ADMIN)
    for forged in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        Client(REMOTE_ADDR="192.0.2.44", HTTP_X_FORWARDED_FOR=forged).post(
            reverse("login"), {"username": name, "password": "wrong"})
    response = Client(REMOTE_ADDR="192.0.2.44", HTTP_X_FORWARDED_FOR="198.51.100.4").post(
        reverse("login"), {"username": name, "password": "admin-password-1"})
    assert "Too many failed logins" in response.content.decode()
    assert set(AuditEntry.objects.filter(target=name).values_list("address", flat=True)) == {"192.0.2.44"}


@pytest.fixture
def proxied_server(live_settings):
    """A server that trusts 127.0.0.1 as its proxy, as the tests' requests come from there."""
    with live.own_server(live_settings, "proxied", DOCKYARD_TRUSTED_PROXIES="127.0.0.1") as server:
        yield server


@pytest.mark.parametrize("path", ["/ws/images/", "/ws/jobs/1/"])
def test_a_refused_websocket_is_audited_with_the_address_behind_the_proxy(transactional_db, proxied_server, path):
    nobody = make_user("nobody", None)
    with pytest.raises(InvalidStatus):
        connect(f"{proxied_server.ws_url}{path}", open_timeout=10, additional_headers={
            "Cookie": f"sessionid={client_for(nobody).cookies['sessionid'].value}", "Origin": proxied_server.url,
            "X-Forwarded-For": "203.0.113.80"})
    entry = AuditEntry.objects.get(actor=nobody, outcome="denied")
    assert (entry.address, entry.via) == ("203.0.113.80", "web")


def dockyard_deploy_warnings():
    from django.core.checks import run_checks

    return sorted(message.id for message in run_checks(include_deployment_checks=True)
                  if message.id.startswith("dockyard."))


def test_check_deploy_warns_behind_a_tls_proxy_that_is_not_trusted_and_whose_requests_may_read_metrics(settings):
    """The README's deployment: a TLS proxy on the same host, with
    DOCKYARD_TRUSTED_PROXIES forgotten. Every request comes from loopback,
    which may read /metrics without the token by default."""
    import io

    from django.core.management import call_command

    settings.DOCKYARD_BEHIND_TLS = True
    settings.DOCKYARD_TRUSTED_PROXIES = []
    settings.DOCKYARD_METRICS_ALLOW = parse_networks("DOCKYARD_METRICS_ALLOW", "127.0.0.1/32, ::1/128")
    assert dockyard_deploy_warnings() == ["dockyard.W001", "dockyard.W002"]
    shown = io.StringIO()
    call_command("check", deploy=True, stderr=shown)
    assert "DOCKYARD_TRUSTED_PROXIES" in shown.getvalue() and "/metrics" in shown.getvalue()

    # Without the token only from what the proxy does not send: the warning about /metrics goes.
    settings.DOCKYARD_METRICS_ALLOW = []
    assert dockyard_deploy_warnings() == ["dockyard.W001"]


@pytest.mark.parametrize("behind_tls, trusted", [
    (True, ["127.0.0.1/32"]),  # the proxy on this host, trusted: X-Forwarded-For names the client
    (False, []),  # no proxy: loopback is this host's own
])
def test_check_deploy_says_nothing_of_proxies_when_the_proxy_is_trusted_or_there_is_none(settings, behind_tls,
                                                                                        trusted):
    settings.DOCKYARD_BEHIND_TLS = behind_tls
    settings.DOCKYARD_TRUSTED_PROXIES = parse_networks("DOCKYARD_TRUSTED_PROXIES", ",".join(trusted))
    settings.DOCKYARD_METRICS_ALLOW = parse_networks("DOCKYARD_METRICS_ALLOW", "127.0.0.1/32, ::1/128")
    assert dockyard_deploy_warnings() == []

import os
import re
import subprocess
import sys
from pathlib import Path

from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent


def test_pages_carry_the_security_headers(client, db):
    response = client.get(reverse("login"))
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def settings_error(**env):
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", **env})
    return result.returncode, result.stderr


def test_it_refuses_to_start_with_a_wildcard_or_empty_host_list():
    for hosts in ("*", "", "dockyard.example,*"):
        code, stderr = settings_error(DOCKYARD_ALLOWED_HOSTS=hosts, DOCKYARD_DEBUG="0")
        assert code != 0 and "DOCKYARD_ALLOWED_HOSTS must name the hosts" in stderr, hosts
    assert settings_error(DOCKYARD_ALLOWED_HOSTS="*", DOCKYARD_DEBUG="1")[0] == 0
    assert settings_error(DOCKYARD_ALLOWED_HOSTS="dockyard.example")[0] == 0


def test_it_refuses_a_default_or_placeholder_secret_key():
    for key in ("changeme", "django-insecure-" + "x" * 50, "a" * 60, "short-but-random-9f8a"):
        code, stderr = settings_error(DOCKYARD_SECRET_KEY=key, DOCKYARD_DEBUG="0")
        assert code != 0 and "DOCKYARD_SECRET_KEY looks like a default" in stderr, key


def documented_production_settings():
    """The settings of README.md's "Running it for a team" block, with a real key
    in place of the placeholder."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("### Running it for a team", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    found = dict(re.findall(r"^((?:DOCKYARD_[A-Z_]+|DATABASE_URL))=(\S+)", block, re.M))
    found["DOCKYARD_SECRET_KEY"] = "k7Qw-9vXr2LmZp4TnBy8HsJd6FgCe1UaWo3KiRt5YxEq0NbVc_MzAsDf2GhJl"
    found["DATABASE_URL"] = found["DATABASE_URL"].replace("<password>", "Pg-0nly-In-This-Test")
    return found


def test_check_deploy_passes_with_the_documented_production_settings():
    production = documented_production_settings()
    # What the block must hold, at the least: the settings the security work added.
    assert {"DOCKYARD_DEBUG", "DOCKYARD_BEHIND_TLS", "DOCKYARD_ALLOWED_HOSTS", "DOCKYARD_TRUSTED_PROXIES",
            "DOCKYARD_REGISTRY_HOSTS", "DOCKYARD_BUILD_NETWORK", "DOCKYARD_JOB_RETENTION_DAYS",
            "DATABASE_URL", "DOCKYARD_METRICS_TOKEN"} <= set(production)
    assert production["DATABASE_URL"].startswith("postgres://")
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never would.
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                            capture_output=True, text=True, env={**env, **production})
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_a_misspelt_boolean():
    code, stderr = settings_error(DOCKYARD_DEBUG="maybe")
    assert code != 0 and "DOCKYARD_DEBUG must be one of" in stderr

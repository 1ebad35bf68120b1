"""The API's OpenAPI document: valid, complete, and a twin in it for every page."""

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver
from openapi_spec_validator import validate

from images.api.app import operations, schema_path
from images.models import ApiToken

# Every page, and the API operations that do what it does. A page added without
# a twin fails here until it has one.
PAGE_TWINS = {
    "images-list": [("GET", "/api/images")],
    "images-detail": [("GET", "/api/images/{reference}"), ("GET", "/api/images/{image_id}/tag-moves"),
                      ("GET", "/api/images/{image_id}/waste"), ("GET", "/api/images/{image_id}/bases")],
    "images-diff": [("GET", "/api/diff")],
    "images-search": [("GET", "/api/search")],
    "files-index": [("POST", "/api/images/{image_id}/index")],
    "files-directory": [("GET", "/api/images/{image_id}/files")],
    "files-search": [("GET", "/api/images/{image_id}/files/search")],
    "images-rebuild": [("POST", "/api/images/{image_id}/rebuild")],
    "images-tag": [("POST", "/api/images/{image_id}/tags")],
    "images-untag": [("POST", "/api/images/{image_id}/untag")],
    "images-push": [("POST", "/api/images/{image_id}/push")],
    "images-export": [("GET", "/api/images/{image_id}/export")],
    "images-provenance": [("GET", "/api/images/{image_id}/provenance")],
    "images-remove": [("POST", "/api/remove"), ("DELETE", "/api/images/{reference}")],
    "images-prune": [("GET", "/api/prune"), ("POST", "/api/prune")],
    "images-import": [("POST", "/api/import")],
    "build-cache": [("GET", "/api/build-cache")],
    "build-cache-prune": [("POST", "/api/build-cache/prune")],
    "disk": [("GET", "/api/disk"), ("GET", "/api/disk/samples"), ("GET", "/api/disk/repositories")],
    "repository-trends": [("GET", "/api/repositories/trends")],
    "retention": [("GET", "/api/retention/rules"), ("POST", "/api/retention/rules"),
                  ("GET", "/api/retention/dry-run"), ("GET", "/api/retention/quarantine")],
    "retention-rule-delete": [("DELETE", "/api/retention/rules/{pk}")],
    "retention-apply": [("POST", "/api/retention/apply")],
    "quarantine-restore": [("POST", "/api/retention/quarantine/{pk}/restore")],
    "images-pin": [("PUT", "/api/images/{image_id}/pin"), ("DELETE", "/api/images/{image_id}/pin")],
    "tags-rollback": [("POST", "/api/tag-moves/{move_pk}/rollback")],
    "jobs-build": [("POST", "/api/builds")],
    "jobs-pull": [("POST", "/api/pulls")],
    "jobs-list": [("GET", "/api/jobs")],
    "jobs-detail": [("GET", "/api/jobs/{pk}")],
    "jobs-log": [("GET", "/api/jobs/{pk}/log")],
    "jobs-cancel": [("POST", "/api/jobs/{pk}/cancel")],
    "jobs-retry": [("POST", "/api/jobs/{pk}/retry")],
    "registries-list": [("GET", "/api/registries")],
    "registries-new": [("POST", "/api/registries")],
    "registries-edit": [("PUT", "/api/registries/{pk}")],
    "registries-delete": [("DELETE", "/api/registries/{pk}")],
    "registries-test": [("POST", "/api/registries/{pk}/test")],
    "secrets-list": [("GET", "/api/secrets"), ("POST", "/api/secrets")],
    "secrets-replace": [("PUT", "/api/secrets/{pk}")],
    "secrets-delete": [("DELETE", "/api/secrets/{pk}")],
    "tokens-list": [("GET", "/api/tokens"), ("POST", "/api/tokens")],
    "tokens-revoke": [("DELETE", "/api/tokens/{pk}")],
    "users-list": [("GET", "/api/users"), ("POST", "/api/users")],
    "users-role": [("PUT", "/api/users/{pk}/role")],
    "account-password": [("POST", "/api/account/password")],
    "audit-list": [("GET", "/api/audit")],
    "audit-export-csv": [("GET", "/api/audit/export.csv")],
    "images-run": [("POST", "/api/images/{image_id}/run")],
    "images-parent": [("GET", "/api/images/{image_id}/parent")],
    "images-rebuild-dependents": [("POST", "/api/images/{image_id}/rebuild-dependents")],
    "images-rebuild-by-itself": [("PUT", "/api/images/{image_id}/rebuild-by-itself")],
    "batches-list": [("GET", "/api/batches")],
    "batches-detail": [("GET", "/api/batches/{pk}")],
    "runs-commit": [("POST", "/api/jobs/{pk}/commit")],
}
# The audit log's pages are Django's admin change list and its exports (images/admin.py).
AUDIT_TWINS = {
    "images_auditentry_changelist": [("GET", "/api/audit")],
    "images_auditentry_export_csv": [("GET", "/api/audit/export.csv")],
    "images_auditentry_export_jsonl": [("GET", "/api/audit/export.jsonl")],
}


@pytest.fixture
def schema(builder):
    _, token = ApiToken.issue(builder, "schema")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/schema")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_a_valid_openapi_3_document(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)  # raises, saying where, on anything OpenAPI 3 does not allow


def test_the_schema_and_the_reference_need_a_login(db):
    assert Client().get("/api/schema").json() == {"error": "Log in, or send Authorization: Bearer <token>."}
    response = Client().get("/api/docs")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def pages():
    """(name, view) for every page in images/urls.py, the API left out."""
    for pattern in get_resolver("images.urls").url_patterns:
        if not isinstance(pattern, URLResolver):
            yield pattern.name, pattern.callback


def api_routes():
    """Every route Django sends to the API, as the schema spells its path."""
    api = next(pattern for pattern in get_resolver("images.urls").url_patterns if isinstance(pattern, URLResolver))
    for pattern in api.url_patterns:
        if pattern.name not in ("openapi-json", "openapi-view", "api-root", "not-an-operation"):
            yield schema_path("/api/" + str(pattern.pattern).replace("<", "{").replace(">", "}"))


def operations_in(schema):
    return {(method.upper(), path): entry for path, methods in schema["paths"].items()
            for method, entry in methods.items()}


def test_every_page_has_an_api_twin_with_the_same_permission(schema):
    from django.contrib import admin

    from images.models import AuditEntry

    documented = operations_in(schema)
    audit_pages = {pattern.name for pattern in admin.site.get_model_admin(AuditEntry).get_urls() if pattern.name}
    unmapped = sorted({name for name, _ in pages()} - set(PAGE_TWINS)) + sorted(set(AUDIT_TWINS) - audit_pages)
    assert unmapped == [], "pages with no API twin named in PAGE_TWINS"
    missing, other_permission = [], []
    expected = [(twin, view.dockyard_permission) for name, view in pages() for twin in PAGE_TWINS[name]]
    expected += [(twin, "read_audit") for twins in AUDIT_TWINS.values() for twin in twins]
    for twin, permission in expected:
        if twin not in documented:
            missing.append(" ".join(twin))
        elif documented[twin]["x-dockyard-permission"] != permission:
            other_permission.append((" ".join(twin), documented[twin]["x-dockyard-permission"], permission))
    assert missing == [], "page actions with no API operation"
    assert other_permission == [], "API twins needing another permission than their page"


def test_every_api_route_and_operation_is_in_the_schema(schema):
    documented = operations_in(schema)
    routes = list(api_routes())
    assert routes and [route for route in routes if route not in schema["paths"]] == []
    undocumented = [(method, schema_path(path)) for path, operation in operations() for method in operation.methods
                    if (method, schema_path(path)) not in documented]
    assert undocumented == []
    assert len(documented) == sum(len(operation.methods) for _, operation in operations())

from django.urls import path

from images.accounts.roles import requires
from images.api.app import urls as api_urls
from images.views import (account, audit, bases, build_cache, disk, files, images, jobs, lifecycle, registries,
                          retention, runs, secrets, trends, users)

urlpatterns = [
    # /
    path("", images.image_list, name="images-list"),
    # /search?q= (every engine's images)
    path("search", images.image_search, name="images-search"),
    # /images/diff?a=&b= (no trailing slash, so an image named "diff" keeps its page)
    path("images/diff", files.image_diff, name="images-diff"),
    # /images/<id>/<action> (an id has no "/", so these cannot shadow a reference)
    path("images/<str:image_hex>/index", files.files_index, name="files-index"),
    path("images/<str:image_hex>/files", files.files_directory, name="files-directory"),
    path("images/<str:image_hex>/files/search", files.files_search, name="files-search"),
    path("images/<str:image_hex>/rebuild", images.image_rebuild, name="images-rebuild"),
    path("images/<str:image_hex>/tag", lifecycle.tag_add, name="images-tag"),
    path("images/<str:image_hex>/untag", lifecycle.tag_remove, name="images-untag"),
    path("images/<str:image_hex>/push", lifecycle.tag_push, name="images-push"),
    path("images/<str:image_hex>/export", lifecycle.image_export, name="images-export"),
    path("images/<str:image_hex>/provenance", images.image_provenance, name="images-provenance"),
    path("images/<str:image_hex>/parent", images.image_parent, name="images-parent"),
    path("images/<str:image_hex>/run", runs.image_run, name="images-run"),
    path("images/<str:image_hex>/pin", retention.image_pin, name="images-pin"),
    path("images/<str:image_hex>/rebuild-dependents", bases.rebuild_dependents, name="images-rebuild-dependents"),
    path("images/<str:image_hex>/rebuild-by-itself", bases.rebuild_by_itself, name="images-rebuild-by-itself"),
    # /batches/ (rebuild dependents)
    path("batches/", bases.batch_list, name="batches-list"),
    path("batches/<int:pk>/", bases.batch_detail, name="batches-detail"),
    # /remove, /prune, /import, /tag-moves/<id>/rollback
    path("remove/", lifecycle.image_remove, name="images-remove"),
    path("prune/", lifecycle.prune, name="images-prune"),
    path("import/", lifecycle.image_import, name="images-import"),
    path("tag-moves/<int:move_pk>/rollback", lifecycle.tag_rollback, name="tags-rollback"),
    # /build-cache/
    path("build-cache/", build_cache.build_cache_page, name="build-cache"),
    path("build-cache/prune", build_cache.build_cache_prune, name="build-cache-prune"),
    # /disk/
    path("disk/", disk.disk_page, name="disk"),
    path("disk/retention/", retention.retention_page, name="retention"),
    path("disk/retention/rules/<int:pk>/delete", retention.rule_delete, name="retention-rule-delete"),
    path("disk/retention/apply", retention.retention_apply_view, name="retention-apply"),
    path("disk/quarantine/<int:pk>/restore", retention.quarantine_restore, name="quarantine-restore"),
    # /images/<id or reference>/
    path("repositories/<path:repository>/", trends.repository_trends, name="repository-trends"),
    path("images/<path:reference>/", images.image_detail, name="images-detail"),
    # /build/, /pull/
    path("build/", jobs.build_new, name="jobs-build"),
    path("pull/", jobs.pull_new, name="jobs-pull"),
    # /jobs/
    path("jobs/", jobs.job_list, name="jobs-list"),
    path("jobs/<int:pk>/", jobs.job_detail, name="jobs-detail"),
    path("jobs/<int:pk>/log.txt", jobs.job_log, name="jobs-log"),
    path("jobs/<int:pk>/cancel", jobs.job_cancel, name="jobs-cancel"),
    path("jobs/<int:pk>/retry", jobs.job_retry, name="jobs-retry"),
    path("jobs/<int:pk>/commit", runs.run_commit, name="runs-commit"),
    # /registries/
    path("registries/", registries.registry_list, name="registries-list"),
    path("registries/new", registries.registry_edit, name="registries-new"),
    path("registries/<int:pk>/", registries.registry_edit, name="registries-edit"),
    path("registries/<int:pk>/delete", registries.registry_delete, name="registries-delete"),
    path("registries/<int:pk>/test", registries.registry_test, name="registries-test"),
    # /secrets/
    path("secrets/", secrets.secret_list, name="secrets-list"),
    path("secrets/<int:pk>/", secrets.secret_replace, name="secrets-replace"),
    path("secrets/<int:pk>/delete", secrets.secret_delete, name="secrets-delete"),
    # /account/tokens/, /users/
    path("account/tokens/", account.token_list, name="tokens-list"),
    path("account/tokens/<int:pk>/revoke", account.token_revoke, name="tokens-revoke"),
    path("account/password/", requires("browse")(account.OwnPasswordChange.as_view()), name="account-password"),
    path("users/", users.user_list, name="users-list"),
    path("users/<int:pk>/role", users.user_role, name="users-role"),
    # /audit/
    path("audit/", audit.audit_list, name="audit-list"),
    path("audit/export.csv", audit.audit_export_csv, name="audit-export-csv"),
    # /api/ (images/api: the operations, /api/schema, /api/docs)
    path("api/", api_urls()),
]

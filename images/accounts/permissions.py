"""Dockyard's permissions and the roles that hold them: a table with no Django
model behind it, so that the models (which carry the permissions, on
`images.Access`) and `roles` (which checks them) both read it from below."""

# codename: what it allows. They live on images.Access (a model with no table).
PERMISSIONS = {
    "browse": "Browse images, jobs and their logs",
    "build": "Build, rebuild and import images",
    "pull": "Pull images",
    "push": "Push images",
    "tag": "Tag and untag images, roll a tag back",
    "export": "Export images as archives",
    "run": "Run containers from images (no ports, mounts or privileges), and commit them as images",
    "cancel_own_job": "Cancel and retry one's own jobs",
    "keep_secrets": "Keep build secrets of one's own, and build with them and the shared ones",
    "remove": "Remove images, or a tag whose removal deletes its image",
    "prune": "Prune unused images",
    "manage_registries": "Add, change, test and delete registry logins",
    "manage_shared_secrets": "Add, change and delete the shared build secrets",
    "cancel_any_job": "Cancel anyone's job",
    "manage_users": "Add users and give them roles",
    "read_audit": "Read and export the audit log",
    "manage_hooks": "Add, change and delete webhooks in and out, and read their deliveries",
}

VIEWER, BUILDER, ADMIN = "viewer", "builder", "admin"
ROLES = {
    VIEWER: ["browse"],
    BUILDER: ["browse", "build", "pull", "push", "tag", "export", "run", "cancel_own_job", "keep_secrets"],
    ADMIN: list(PERMISSIONS),
}

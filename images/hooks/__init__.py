"""Webhooks, in and out.

- `signatures`: the HMACs: GitHub's X-Hub-Signature-256, GitLab's X-Gitlab-Token, and Dockyard's own
  X-Dockyard-Signature on what it sends.
- `sources`: the repositories whose pushes rebuild a recipe (admins make and delete them; the secret is
  shown once).
- `inbound`: a push received: verified, refused when replayed, and the mapped rebuild started.
- `destinations`: where outbound webhooks may go (DOCKYARD_WEBHOOK_HOSTS, checked after resolution).
- `receivers`: the URLs told of events (admins make and delete them).
- `outbound`: `send_event(name, payload)`, and the delivery a Celery task makes of it, with retries.
"""

"""The JSON API for scripts and CI (django-ninja), with session or bearer-token
authentication. Each operation calls the same service function as the page
that offers the action, with the same permission and the same audit entry.

app.py holds the NinjaAPI, its error answers and its URLs; auth.py who may
call what; one module per area holds the operations, schemas.py their shapes.
The reference is served at /api/docs (the OpenAPI document at /api/schema);
docs/api.md is the guide.
"""

"""The JSON API for scripts and CI (docs/api.md): the same service functions as
the pages, with session or bearer-token authentication and the same permissions."""

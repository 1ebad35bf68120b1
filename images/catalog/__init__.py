"""Reading what is on the host: the image list, one image's configuration, and
its layer history read like the Dockerfile that made it.

- `listing`: the list's rows, filters and sorts.
- `inspect`: what the image page shows of `docker image inspect`.
- `history`: layer histories as instructions.
- `forms`: the list's search, filter and sort.
"""

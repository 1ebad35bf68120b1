"""Changes to the images on the host, and their history; and the build cache.

- `tags`: add, move and remove tags, roll a tag back, a tag's history; the
  per-image lock that serialises them.
- `events`: the engine's image events, recorded as tag moves and sent to open lists.
- `removal`: remove images, one or many, and prune.
- `exports`, `imports`: an image as a `docker save` stream, and such an archive loaded back as a job.
- `build_cache`: the BuildKit build cache summed up (by type, cache mounts named), and its prune.
- `forms`: the forms of the tag, remove, prune and import pages.
- `terminals`: which terminal of a running run a person may open, and whether they may type in it.
"""

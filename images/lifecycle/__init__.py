"""Changes to the images on the host, and their history.

- `tags`: add, move and remove tags, remove images, prune, roll a tag back;
  the per-image lock that serialises them.
- `events`: the engine's image events, recorded as tag moves and sent to open lists.
- `forms`: the forms of the tag, remove, prune and import pages.
"""

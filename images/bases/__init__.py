"""Base images and what is built on them.

- `checks`: the periodic check of the bases recent builds used: their registry
  digest and the image their name gives on the engine; marks what was built on
  a base that has moved since ("base updated").
- `dependents`: the current recipes, and from them the images built on a base
  (directly or through others), and what an image is built on.
- `batches`: a base's dependents rebuilt in topological order, each after what
  it is built on; a failure skips only what depends on it.
- `events`: the hook point other parts (outbound webhooks) listen on.
"""

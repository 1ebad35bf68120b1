"""What is inside images: each layer's files, read once from the engine's save
stream, and what they add up to.

- `headers`: tar member headers read from a stream as they pass, contents skipped.
- `entries`: one layer's entries as stored (compressed columns), names as bytes
  and how pages show them.
- `columns`: columns packed into one blob, each compressed on its own (layer
  indexes and checkpoints).
- `indexing`: the index job's work: a `docker save` stream read into layer
  indexes (by diff id, each once) and an image index.
- `filesystem`: an image's filesystem after each of its layers, and what each
  layer added, modified and removed; a checkpoint of it, for an image built on
  this one to carry on from.
- `waste`: wasted space and efficiency, as dive computes them.
- `explorer`: what the pages and the API ask: a directory after a layer, a path
  search, wasted space; the stacked filesystems kept in the process.
- `diff`: two images compared: configuration, layers, files.
- `history`: which history entries made an image's layers.
- `cleanup`: the indexes of images that are gone, removed.
"""

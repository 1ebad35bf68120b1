"""BuildKit through the plain Engine API: builds sent to `POST /build?version=2`,
the session Dockyard serves to the engine while one runs (registry logins,
chosen secrets, the health check), and the progress trace read from the
`moby.buildkit.trace` messages (`trace`: a build as a graph of vertices, and its
lines in `--progress=plain` form). Message classes are generated from the `.proto`
files in `protos/` by `scripts/generate_protos.sh` (committed, with the
generated `*_pb2.py`)."""

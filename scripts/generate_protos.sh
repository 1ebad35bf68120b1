#!/usr/bin/env bash
# Regenerate the protobuf message classes of images/engine/buildkit/protos/*.proto
# (trimmed copies of moby/buildkit's and gRPC's: only the messages Dockyard uses,
# with their field numbers). Needs grpcio-tools, which only this script uses:
# it is installed into a throwaway virtualenv, not into Dockyard's.
set -euo pipefail
cd "$(dirname "$0")/.."
protos=images/engine/buildkit/protos
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install -q "grpcio-tools==1.85.1"
"$tools/bin/python" -m grpc_tools.protoc -I "$protos" --python_out="$protos" "$protos"/*.proto
echo "Generated: $(cd "$protos" && ls ./*_pb2.py | tr '\n' ' ')"

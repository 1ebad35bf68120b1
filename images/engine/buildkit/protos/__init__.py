"""Generated protobuf modules (scripts/generate_protos.sh) and their .proto sources."""

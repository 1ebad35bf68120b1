"""The Docker engine: the only package that calls the Docker SDK or the Engine API,
and the readers of what the engine streams back.

- `client`: `Engine` (every call Dockyard makes), `get_engine`, the errors, and
  `EngineStream` (one job's cancellable stream of calls).
- `output`: an engine message stream turned into lines of text.
- `steps`: a classic-builder build read as steps.
- `progress`: pull and push progress, one entry per layer.
- `layer_records`: a local engine's own records of its layers' tar headers.
- `image_configs`: an image's config (its history with the `empty_layer` marks), from a local engine's store or a save stream.
- `hijack`: a connection to the engine switched to another protocol (HTTP Upgrade).
- `terminals`: a TTY container's attach, or a shell in it, read and written from asyncio.
- `buildkit`: BuildKit builds; `BuildSession`, the session served to one of them.

Everything else imports what it needs from here (`from images.engine import
get_engine, EngineError`), never `docker`.
"""

from images.engine.buildkit.session import BuildSession
from images.engine.client import (
    Engine,
    EngineError,
    EngineStream,
    EngineUnavailable,
    IgnoreRules,
    ImageNotFound,
    StreamClosed,
    UnknownEngine,
    get_engine,
)

__all__ = ["BuildSession", "Engine", "EngineError", "EngineStream", "EngineUnavailable", "IgnoreRules", "ImageNotFound",
           "StreamClosed", "UnknownEngine", "get_engine"]

"""Which builder runs a build: BuildKit wherever the engine supports it, the
classic builder as a per-build choice (form, API, recipe).

A recipe records its builder in `params["builder"]`; a recipe from before there
was a choice has none, and was built (so is rebuilt) with the classic builder.
"""

import threading
import time

from images.engine import EngineError, get_engine

BUILDKIT, CLASSIC = "buildkit", "classic"
CHOICES = [(BUILDKIT, "BuildKit (parallel stages, cache mounts, secrets)"),
           (CLASSIC, "Classic builder (deprecated by Docker)")]
# The engine's answer is asked for once in a while, not on every form shown.
SUPPORT_SECONDS = 30

_support = {}
_lock = threading.Lock()


def buildkit_support():
    """(supported, reason) for the default engine, as buildkit_support says it;
    an engine that does not answer is taken to support it (the build then fails
    naming the engine, whichever builder it chose)."""
    engine = get_engine()
    with _lock:
        known = _support.get(engine.address)
        if known is not None and time.monotonic() - known[0] < SUPPORT_SECONDS:
            return known[1]
    try:
        answer = engine.buildkit_support()
    except EngineError:
        return True, ""
    with _lock:
        _support[engine.address] = (time.monotonic(), answer)
    return answer


def default_builder():
    return BUILDKIT if buildkit_support()[0] else CLASSIC


def of_recipe(params):
    """The builder a job's recipe runs with."""
    return params.get("builder") or CLASSIC

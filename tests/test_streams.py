"""Stream slots in real Redis: the limit, release, refresh, and slots a dead server left."""

import asyncio
import uuid

import pytest

from images.jobs import streams


@pytest.fixture
def user(settings):
    settings.DOCKYARD_MAX_STREAMS = 2
    settings.CHANNEL_LAYERS = {"default": {**settings.CHANNEL_LAYERS["default"],
                                           "CONFIG": {"prefix": f"test-streams-{uuid.uuid4().hex[:8]}"}}}
    return 7


def run(coroutine):
    return asyncio.run(coroutine)


def test_slots_are_limited_and_given_back(user):
    async def scenario():
        taken = [await streams.acquire(user, name) for name in ("a", "b", "c")]
        await streams.release(user, "a")
        return taken, await streams.acquire(user, "c")

    assert run(scenario()) == ([True, True, False], True)


def test_a_slot_not_refreshed_stops_counting_and_a_refreshed_one_does_not(user):
    now = [1_000_000.0]

    def clock():  # minutes pass at once
        return now[0]

    async def scenario():
        await streams.acquire(user, "kept", clock)
        await streams.acquire(user, "dead", clock)  # its server died: never refreshed, never released
        now[0] += streams.STALE - 1
        await streams.refresh(user, "kept", clock)
        full = await streams.acquire(user, "new", clock)
        now[0] += 2  # "dead" is now stale, "kept" is not
        return full, await streams.acquire(user, "new", clock), await streams.acquire(user, "third", clock)

    assert run(scenario()) == (False, True, False)

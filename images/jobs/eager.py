"""Running a coroutine at once, and as a task only if it has to wait: Python
3.12's eager tasks (`asyncio.eager_task_factory`), for one coroutine, on 3.11.

A web process hands each batch of a build's lines to every viewer of the build
(`fanout`). Sending a frame to a socket that takes it never waits, so a task for
each viewer for each batch was scheduling work that could simply be done: a
quarter of the event loop's time with 500 viewers in a process (bench 10). A
viewer whose socket is full, or that reads the database, carries on in a task
as before.
"""

import asyncio
import collections.abc
import contextvars


def run_eagerly(coro):
    """Run `coro` now, in a context of its own as a task would, until it first
    waits. None if it has finished; else the task that carries it on. What it
    raises before waiting is raised here."""
    context = contextvars.copy_context()
    try:
        waiting_on = context.run(coro.send, None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_CarriedOn(coro, waiting_on), context=context)


class _CarriedOn(collections.abc.Coroutine):
    """`coro` as the task sees it: at its first step, what `coro` already waits
    on; from then on `coro` itself. A task cancelled before its first step throws
    the cancellation in here, and `coro` gets it where it waits, as it would
    with any other task (a coroutine function's body could not catch that)."""

    def __init__(self, coro, waiting_on):
        self.coro, self.waiting_on, self.started = coro, waiting_on, False

    def send(self, value):
        if not self.started:
            self.started = True
            return self.waiting_on
        return self.coro.send(value)

    def throw(self, *exception):
        self.started = True
        return self.coro.throw(*exception)

    def close(self):
        self.coro.close()

    def __next__(self):
        return self.send(None)

    def __await__(self):
        return self

"""What the Celery broker (Redis) holds of Dockyard's jobs: which jobs' tasks
wait in their engine's queue, or are in a worker's hands (reserved or running:
kombu's unacked hash, where a message stays until it is acknowledged).

Read through Celery's own broker connection, so that the key names (priority
lists, the unacked hash, a global key prefix) are kombu's, not copies of them.
"""

import json
import logging

from dashboard.celery import app

# images.tasks imports the sweep that imports this module: the task by its name.
RUN_JOB_TASK = "images.tasks.run_job_task"

log = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """Redis did not answer: nothing is known about what it holds."""


def jobs_held(queues):
    """(queue, job id) of every run_job_task message in `queues` or in a
    worker's hands on one of them, read in one MULTI so that it is one moment
    of Redis."""
    queues = set(queues)
    with app.connection_for_read() as connection:
        try:
            return _held(connection, queues)
        except connection.connection_errors + connection.channel_errors as exc:
            raise BrokerUnavailable(str(exc)) from exc


def _held(connection, queues):
    channel = connection.default_channel
    # kombu's own names for a queue's lists, one per priority step (its `_size` reads the same).
    lists = sorted({(channel._q_for_pri(queue, priority), queue) for queue in queues
                    for priority in channel.priority_steps})
    with channel.conn_or_acquire() as client, client.pipeline(transaction=True) as pipe:
        for key, _ in lists:
            pipe.lrange(key, 0, -1)
        pipe.hvals(channel.unacked_key)
        *waiting, unacked = pipe.execute()
    messages = [(json.loads(raw), queue) for (_, queue), raws in zip(lists, waiting) for raw in raws]
    # An unacked entry is [message, exchange, routing key]; the routing key is the queue's name.
    messages += [(entry[0], entry[2]) for entry in map(json.loads, unacked)]
    return {(queue, job_id) for raw, queue in messages
            if queue in queues and (job_id := _job_of(channel, raw)) is not None}


def _job_of(channel, raw):
    """The job id a run_job_task message carries; None for any other message."""
    try:
        message = channel.Message(raw, channel=channel)
        if message.headers.get("task") != RUN_JOB_TASK:
            return None
        args = message.decode()[0]
        return int(args[0])
    except Exception:  # noqa: BLE001 - another program's message on the same Redis is not Dockyard's
        log.debug("A message in the broker is not a job's task", exc_info=True)
        return None

"""Jobs: the builds, pulls, pushes and imports a worker runs for someone, and
everything that follows one from its start to its stored output.

- `control`: start, retry, rebuild, cancel; the job limit; the sweeps for jobs
  lost between the queue and a worker (web and scheduler side).
- `broker`: which jobs' tasks Redis holds, waiting or in a worker's hands.
- `running`: a job run in the worker, its heartbeat and its cancel.
- `log`: output lines numbered, stored in batches, then published.
- `publish`: the channel layer behind one place.
- `channel_layer`: channels-redis's pub/sub layer, each message decoded once a process.
- `consumers`: the websockets (a job's output, the image events).
- `terminals`: a run's terminal websocket, proxied to the engine.
- `fanout`: a web process's one subscription per job, handed to its viewers.
- `eager`: a viewer's send run at once, as a task only if it has to wait.
- `streams`: how many streams each person has open, across processes.
- `access`: which jobs a person may see or change.
- `retention`: what expired jobs leave behind, removed.
"""

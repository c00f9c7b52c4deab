"""Training, the whole path of a run in one folder.

`config` (what a run is) → `run_queue.submit` (the page) or `cli` (`python -m explorer.train`)
creates the run folder (`runs`) and queues it → `scheduler` (a thread in every web server)
claims it and starts `worker` in its own process, under torchrun for several → `engine`
trains on `datasets` with `augment`, writing metrics, heartbeat status and `checkpoints`.
"""

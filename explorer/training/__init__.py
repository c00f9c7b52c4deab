"""Training, the whole path of a run in one folder.

`config` (what a run is), `datasets` and `augment` (its data), `engine` (the loop),
`runs` (the run folder on disk), `jobs` (the queue), `cli` (`python -m explorer.train`).
"""

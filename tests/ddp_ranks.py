"""One rank of a two-process gloo group, for tests/test_agreement.py (run as a script).

    python tests/ddp_ranks.py SCENARIO RANK WORLD INIT_FILE [RUN_DIR]

Prints one JSON line: what this rank's engine.train returned, or where the agreement ended.
"""

from __future__ import annotations

import json
import sys
import threading
import types
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.training import engine


def agreement_alone(rank: int) -> dict:
    """Rank 1's readout saw a bad loss at step 3; the losses of every step are fine."""
    run = types.SimpleNamespace(stop=threading.Event(),
                                run_config=types.SimpleNamespace(num_classes=10),
                                flush_quietly=lambda: None, divergence=engine._Run.divergence,
                                cfg=types.SimpleNamespace(lr=0.1))
    run.divergence = lambda loss, step, epoch: engine._Diverged(
        "loss {loss} at step {step}", loss=str(loss), step=step, epoch=epoch)
    agreement = engine._Agreement(run)
    for step in range(1, 40):
        if rank == 1 and step == 3:
            agreement.note_bad(1e9, 3, 1)
        try:
            agreement.step(torch.tensor(0.5), step, 1, last=False)
        except engine._Diverged as err:
            return {"ended_at": step, "reason": str(err.values)}
    return {"ended_at": None}


def main() -> None:
    scenario, rank, world, init_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        if scenario == "agreement":
            out = agreement_alone(rank)
        else:
            stop = threading.Event()
            if scenario == "stop" and rank == 1:  # only this rank's watcher sees the stop
                threading.Timer(1.5, stop.set).start()
            out = engine.train(sys.argv[5], stop=stop)
            out = {"state": out["state"], "reason": out.get("reason", "")}
    finally:
        dist.destroy_process_group()
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""`python -m explorer.serving.prepare`: put the large networks' default weights in the store.

`make serve` runs this once beside the Streamlit processes, before the class arrives. The
Feature maps page opens every network with seed 0; at 224 px the VGGs, AlexNet, the MLP and
the deeper ResNets are 83–548 MB, and building one and writing it to the store takes 2–3 s
of the machine's single turn for large networks (`weight_store.WeightStore.turn`). A class
choosing networks at random otherwise queues behind those builds; prepared, a network is
mapped in milliseconds. Networks already in the store (a server started before with the same
torch) are not built again, so a restart costs a second. One network is built at a time, in
the same turn the servers take, so a student asking for one meanwhile waits for at most one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from explorer.serving import networks, weight_store


def prepare(store: weight_store.WeightStore, seed: int = 0,
            keys: list[str] | None = None, out=sys.stdout) -> int:
    """Build into `store` each of `networks.stored_defaults` it lacks; returns how many were
    built."""
    folder = store.folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"no weight store to prepare: {err}", file=out, flush=True)
        return 0
    if not os.access(folder, os.W_OK):
        print(f"no weight store to prepare: {folder} is not writable", file=out, flush=True)
        return 0
    pairs = networks.stored_defaults(store, seed=seed, keys=keys)
    before, t0 = store.builds, time.monotonic()
    for key, variant in pairs:
        t = time.monotonic()
        networks.random_network(key, variant, False, seed, store=store)
        print(f"{key} at {variant} size, seed {seed}: {time.monotonic() - t:.1f} s", file=out,
              flush=True)
    built = store.builds - before
    print(f"prepared {len(pairs)} networks in {folder} ({built} built, the rest "
          f"already there) in {time.monotonic() - t0:.1f} s", file=out, flush=True)
    return built


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="the seed to prepare (the page's: 0)")
    args = ap.parse_args(argv)
    prepare(weight_store.networks, seed=args.seed)


if __name__ == "__main__":
    main()

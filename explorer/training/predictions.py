"""A finished run's prediction for every test image, and the samples the gallery shows.

The worker writes `<run>/predictions.json` once, after its final evaluation: for each test
image, in test-set order, its true class, the predicted class and the softmax confidence of
that prediction. The Training page draws random images from it, right and wrong, filtered
by class, without running the network again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from explorer.training import durable

FILE = "predictions.json"
OUTCOMES = ("all", "right", "wrong")


@dataclass(frozen=True)
class Predictions:
    """Per test image: true class, predicted class, confidence of the prediction."""

    true: np.ndarray  # int64 [N]
    pred: np.ndarray  # int64 [N]
    confidence: np.ndarray  # float32 [N], in [0, 1]

    def __len__(self) -> int:
        return len(self.true)

    @property
    def right(self) -> np.ndarray:
        return self.true == self.pred

    def accuracy(self) -> float:
        return float(self.right.mean()) if len(self) else 0.0


def write(run_dir: Path, logits: torch.Tensor, labels: torch.Tensor) -> None:
    """Save the predictions of `logits` [N, K] for the test labels [N] (durable replace)."""
    confidence, pred = logits.float().softmax(1).max(1)
    data = {"true": labels.cpu().tolist(), "pred": pred.cpu().tolist(),
            "confidence": [round(c, 4) for c in confidence.cpu().tolist()]}
    durable.write_bytes(Path(run_dir) / FILE, json.dumps(data, separators=(",", ":")).encode())


def read(run_dir: Path) -> Predictions | None:
    """The run's predictions, or None when it has none (unfinished, or older than this file)."""
    try:
        data = json.loads((Path(run_dir) / FILE).read_text())
        out = Predictions(np.asarray(data["true"], dtype=np.int64),
                          np.asarray(data["pred"], dtype=np.int64),
                          np.asarray(data["confidence"], dtype=np.float32))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not len(out.true) == len(out.pred) == len(out.confidence):
        return None
    return out


def sample(predictions: Predictions, *, true_class: int | None = None, outcome: str = "all",
           count: int = 24, seed: int = 0) -> list[int]:
    """Test-set indices of up to `count` random images (a `seed` draws another sample),
    optionally of one true class and only right or only wrong predictions."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
    keep = np.ones(len(predictions), dtype=bool)
    if true_class is not None:
        keep &= predictions.true == true_class
    if outcome != "all":
        keep &= predictions.right if outcome == "right" else ~predictions.right
    candidates = np.flatnonzero(keep)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(candidates, size=min(count, len(candidates)), replace=False)
    return sorted(int(i) for i in chosen)

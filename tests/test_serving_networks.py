"""Where the serving layer sits: lessons and training load none of it, and the weight store
(explorer.serving.weight_store) finds its folder without importing training."""

from __future__ import annotations

import subprocess
import sys

from explorer.serving import weight_store
from explorer.training import runs


def loaded(*modules: str) -> list[str]:
    """The explorer modules a fresh interpreter has loaded after importing `modules`."""
    code = (f"import sys, {', '.join(modules)}; "
            "print(' '.join(m for m in sys.modules if m.startswith('explorer')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return done.stdout.split()


def test_lessons_and_training_load_no_serving_and_the_weight_store_no_training():
    """A training worker imports the timeline (which uses a lesson) without the serving
    layer, and the weight store finds its folder without importing training."""
    assert not [m for m in loaded("explorer.training.timeline", "explorer.feature_maps")
                if m.startswith("explorer.serving")]
    assert not [m for m in loaded("explorer.serving.weight_store")
                if m.startswith("explorer.training")]


def test_the_weight_store_lives_in_the_runs_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    assert weight_store.networks.folder() == tmp_path / ".cache" / "weights"
    assert weight_store.networks.folder() == runs.runs_dir() / ".cache" / "weights"

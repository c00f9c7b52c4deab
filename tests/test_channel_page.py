"""The channel page with a trained run's weights (AppTest): its channel is offered as a job, the
same channel with random weights beside it, and a forged channel is kept in range."""

from __future__ import annotations


def _texts(at) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "subheader", "info")
                     for e in getattr(at, kind))


def test_a_trained_run_s_channel_and_its_random_twin(open_page, lenet_run):
    at = open_page("pages/channel.py", fm_weights="Training run", fm_run=lenet_run.name,
                   ch_layer="features.3", ch_channel=99)
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["ch_channel"] == 0, "a forged channel falls back to the first"
    labels = [b.label for b in at.button]
    assert labels.count("Find what this channel looks for") == 2, labels  # trained and random
    text = _texts(at)
    assert "The same channel with random weights" in text
    assert "Seed 0, the same layer and channel" in text

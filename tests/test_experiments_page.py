"""The Experiments page in AppTest: recorded runs come back as curves, a verdict and the checks."""

from __future__ import annotations

import torch

from explorer.experiments import designs, pairing
from explorer.training import access, engine, run_queue, scheduler


def test_a_finished_experiment_shows_its_verdict_and_what_was_checked(open_page, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    # A page opened by an earlier test starts this process's scheduler, which watches the
    # runs folder of the moment and would claim these runs before the loop below does
    scheduler.stop_default()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pairing.submit(designs.get("activation"), "quick", "another-students-tag")
        for item in run_queue.waiting():
            assert run_queue.claim(item)
            engine.train(tmp_path / item.run_id)
            access.set_shared(item.run_id, access.Actor.operator(), True)
    finally:
        torch.set_num_threads(threads)
    at = open_page("pages/experiments.py")
    assert not at.exception
    box = at.selectbox(key="exp_pick_activation")
    assert box.value == 0 and "quick check · another student's" in box.format_func(0)
    verdicts = [m.value for m in [*at.success, *at.warning] if "After 1 epoch(s)" in m.value]
    assert len(verdicts) == 1 and "A quick check" in verdicts[0]
    captions = " ".join(c.value for c in at.caption)
    assert "identical initial weights" in captions and "same batches in the same order" in captions
    assert "sigmoid + average pool (d2l): finished" in captions
    assert any("27C²" in s.value and "The claim holds." in s.value for s in at.success)


def test_a_students_experiments_are_not_shown_to_another(open_page, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    scheduler.stop_default()
    pairing.submit(designs.get("activation"), "quick", "another-students-tag")
    at = open_page("pages/experiments.py")
    assert not at.exception
    assert not [s for s in at.selectbox if s.key == "exp_pick_activation"]
    assert any("No runs of this experiment yet" in c.value for c in at.caption)


def test_the_quick_check_says_what_it_changes_of_the_held_equal(open_page):
    at = open_page("pages/experiments.py")
    assert not any("At the quick check's size" in m.value for m in at.markdown)
    at.radio(key="exp_size").set_value("quick").run()
    assert any("every run trains instead for 1 epoch on 256 images" in m.value
               for m in at.markdown)

"""Error sentences from the models, the training settings, the devices and the training worker
reach a student in Chinese; a run's failure reason is translated when it is shown, and old run
folders (a reason without an id) still read."""

from __future__ import annotations

import json
import sys

import pytest

from explorer import devices, i18n
from explorer.models import zoo
from explorer.training import access, engine, reasons, runs, scheduler
from explorer.training.config import TrainConfig


def test_build_errors_in_chinese():
    with i18n.use_language("zh"), pytest.raises(zoo.BuildError) as err:
        zoo.build_model("lenet5", variant="cifar", height=2, width=2)
    assert "缩得一点不剩" in str(err.value) and "2×2" in str(err.value)
    with i18n.use_language("zh"), pytest.raises(zoo.BuildError, match="这种配置"):
        zoo.resolve_input("bogus")
    with pytest.raises(zoo.BuildError, match="shrinks to nothing"):  # English stays English
        zoo.build_model("lenet5", variant="cifar", height=2, width=2)


def test_training_settings_errors_in_chinese():
    with i18n.use_language("zh"), pytest.raises(ValueError, match="学习率必须大于 0"):
        TrainConfig(lr=0).validate()
    with i18n.use_language("zh"), pytest.raises(ValueError, match="分不到 4 个进程上"):
        TrainConfig(batch_size=2, nproc=4).validate()


@pytest.mark.skipif(sys.platform == "darwin", reason="a Mac may have MPS")
def test_device_error_in_chinese():
    with i18n.use_language("zh"), pytest.raises(ValueError, match="没有 Apple Metal GPU"):
        devices.pick_device("mps")


def test_worker_reason_is_translated_when_shown(tmp_path):
    """The worker writes English plus the template and its values; a reader in Chinese sees
    Chinese, the CLI and older readers keep the English `reason`."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    written = runs.write_status(run_dir, "failed", **scheduler.exit_reason(-9))
    assert written["reason"].startswith("The training process ended unexpectedly (signal 9")
    status = json.loads((run_dir / "status.json").read_text())
    assert status["reason_args"] == {"signal": 9, "name": "SIGKILL"}
    assert reasons.shown(status) == status["reason"]
    with i18n.use_language("zh"):
        assert reasons.shown(status) == ("训练进程意外结束了（信号 9，SIGKILL）；"
                                         "最后完成的 epoch 已保留。")
        assert runs.read_status(tmp_path / "none").shown_reason == "找不到 status.json。"


def test_old_status_without_an_id_shows_its_english(tmp_path):
    old = {"state": "failed", "reason": "Diverged. The loss exploded.", "epochs_done": 1}
    (tmp_path / "status.json").write_text(json.dumps(old))
    status = runs.read_status(tmp_path)
    with i18n.use_language("zh"):
        assert status.shown_reason == "Diverged. The loss exploded."
        # an id whose values no longer fit its template falls back to the English too
        assert reasons.shown({**old, "reason_id": "{missing}", "reason_args": {}}) == old["reason"]


def test_a_failed_run_on_the_training_page_in_chinese(open_page):
    run_dir = engine.prepare_run(TrainConfig(epochs=1, device="cpu"))
    runs.write_status(run_dir, "failed", **scheduler.exit_reason(1))
    access.set_shared(run_dir.name, access.Actor.operator(), True)
    at = open_page("pages/training.py", lang="zh", training_run=run_dir.name)
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert "训练进程意外结束了（退出码 1）；最后完成的 epoch 已保留。" in errors, errors


def test_the_compile_fallback_note_reads_in_the_viewers_language():
    from explorer.training import reasons

    note = reasons.COMPILE_FELL_BACK.format(error="BackendCompilerFailed")
    with i18n.use_language("zh"):
        shown = reasons.shown_note(note)
    assert "BackendCompilerFailed" in shown and "编译失败" in shown
    assert reasons.shown_note("something else entirely") == "something else entirely"

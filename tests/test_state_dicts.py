"""state_dict save/load: round trip, a strict key check that says what does not fit, and
uploads read with weights_only=True so that a pickle that would run code is refused."""

from __future__ import annotations

import pytest
import torch

from explorer.models import state_dicts, zoo


def test_state_dict_round_trip_restores_identical_outputs():
    torch.manual_seed(0)
    model = zoo.build_model("resnet18", variant="mnist")
    data = state_dicts.state_dict_bytes(model)
    torch.manual_seed(1)
    other = zoo.build_model("resnet18", variant="mnist")
    assert state_dicts.max_output_difference(model, other, (1, 28, 28)) > 0
    state_dicts.load_checked(other, state_dicts.read_state_dict(data))
    assert state_dicts.max_output_difference(model, other, (1, 28, 28)) == 0.0


class _Payload:
    """Unpickling this would create a file: a stand-in for arbitrary code in a .pt upload."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(2), "payload": _Payload(marker)}, path)
    assert not marker.exists()
    with pytest.raises(state_dicts.StateDictError, match="Refused") as err:
        state_dicts.read_state_dict(path.read_bytes())
    assert "weights_only=True" in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize(("data", "message"), [(b"", "empty"), (b"not a torch file", "not a "
                                               "PyTorch .pt file")])
def test_files_that_are_not_state_dicts(data, message):
    with pytest.raises(state_dicts.StateDictError, match=message):
        state_dicts.read_state_dict(data)


def test_a_tensor_is_not_a_state_dict(tmp_path):
    path = tmp_path / "t.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(state_dicts.StateDictError, match="not a state_dict"):
        state_dicts.read_state_dict(path.read_bytes())


def test_strict_key_check_lists_every_kind_of_mismatch():
    state = zoo.build_model("lenet5").state_dict()
    message = state_dicts.key_mismatches(zoo.build_model("lenet5", batchnorm=True), state)
    assert message and "missing keys" in message and "features.1.running_mean" in message
    message = state_dicts.key_mismatches(zoo.build_model("lenet5", variant="cifar"), state)
    assert "shape mismatches" in message and "features.0.weight: file [6, 1, 5, 5]" in message
    message = state_dicts.key_mismatches(zoo.build_model("mlp"), state)
    assert "unexpected keys" in message and "more" in message
    with pytest.raises(state_dicts.StateDictError, match="strict check"):
        state_dicts.load_checked(zoo.build_model("mlp"), state)
    assert state_dicts.key_mismatches(zoo.build_model("lenet5"), state) is None


def test_a_wrong_file_is_refused_in_the_students_language():
    from explorer import i18n

    state = zoo.build_model("lenet5").state_dict()
    with i18n.use_language("zh"):
        message = state_dicts.key_mismatches(zoo.build_model("mlp"), state)
        with pytest.raises(state_dicts.StateDictError, match=r"不是 PyTorch 的 \.pt 文件"):
            state_dicts.read_state_dict(b"not a zip")
    assert message.startswith("这个 state_dict 与模型不匹配") and "多出" in message

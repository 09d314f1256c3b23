"""atlas.networks.to_torch: a stored or downloaded network as a ready PyTorch module, which
computes what the atlas' own population forward computes (checked in float64)."""

from __future__ import annotations

import io
import pickle

import pytest
import torch
from safetensors.torch import save as save_safetensors
from safetensors.torch import save_file
from torch import nn

from atlas.networks import StateDictError, from_state_dicts, to_torch
from atlas.tasks import get_task

SETTINGS = [("delayed", "vanilla"), ("reproduction", "gru"), ("reproduction", "lstm")]


def _reference(reference_networks, task: str, architecture: str):
    return next(r for r in reference_networks if (r.task, r.architecture) == (task, architecture))


@pytest.mark.parametrize(("task", "architecture"), SETTINGS)
def test_module_forward_equals_the_population_in_float64(reference_networks, task, architecture):
    ref = _reference(reference_networks, task, architecture)
    inputs = get_task(task).validation_set().inputs[::4].double()  # a spread of trials
    module = to_torch(ref.state_dict, dtype=torch.float64)
    assert isinstance(module.rnn, {"vanilla": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[architecture])
    assert module.rnn.batch_first and isinstance(module.fc, nn.Linear)
    with torch.no_grad():
        outputs = module(inputs)
        expected = from_state_dicts([ref.state_dict]).double()(inputs).outputs[0]
    assert outputs.dtype == torch.float64 and outputs.shape == expected.shape
    assert torch.allclose(outputs, expected, atol=1e-12, rtol=0)


def test_files_in_every_format_give_the_same_module(reference_networks, tmp_path):
    ref = _reference(reference_networks, "reproduction", "gru")
    safetensors_path = tmp_path / "final.safetensors"
    save_file(ref.state_dict, safetensors_path)
    buffer = io.BytesIO()
    torch.save(ref.state_dict, buffer)
    sources = [
        ref.weights_path,  # the paper's own torch.save file (saved on CUDA)
        str(ref.weights_path),
        safetensors_path,
        save_safetensors(ref.state_dict),
        buffer.getvalue(),
    ]
    inputs = get_task("reproduction").validation_set().inputs[:4]
    with torch.no_grad():
        expected = to_torch(ref.state_dict)(inputs)
        for source in sources:
            module = to_torch(source)
            for key, value in module.state_dict().items():
                assert torch.equal(value, ref.state_dict[key]), (source, key)
            assert torch.equal(module(inputs), expected)


class _Exploit:
    def __reduce__(self):
        return (exec, ("raise SystemExit('pickled code ran')",))


def test_a_refusal_names_what_it_refused_and_never_advises_an_unsafe_load():
    """torch's own message says to load again with weights_only=False: that would run the
    file's code, so the atlas passes on only what was refused."""
    buffer = io.BytesIO()
    torch.save({"rnn.weight_ih_l0": _Exploit()}, buffer)
    for payload, found in (
        (buffer.getvalue(), "GLOBAL exec"),
        (pickle.dumps({"rnn.weight_ih_l0": _Exploit()}), "Unsupported operand"),
        (b"PK\x03\x04", "not a zip archive"),
        (b"", "truncated or corrupted"),
    ):
        with pytest.raises(StateDictError) as refused:
            to_torch(payload)
        message = str(refused.value)
        assert found in message and "weights_only" not in message, message


def test_files_that_are_not_a_network_are_refused(reference_networks, tmp_path):
    ref = _reference(reference_networks, "delayed", "vanilla")
    with pytest.raises(StateDictError, match="not a safe PyTorch state dict"):
        to_torch(pickle.dumps({"rnn.weight_ih_l0": _Exploit()}))
    broken = dict(ref.state_dict)
    broken["fc.weight"] = torch.zeros(3, ref.units)
    with pytest.raises(StateDictError, match=r"fc\.bias has shape"):
        to_torch(save_safetensors(broken))
    payload = bytearray(save_safetensors(ref.state_dict))
    del payload[-4:]  # a truncated download
    with pytest.raises(StateDictError, match="safetensors"):
        to_torch(bytes(payload))
    nan = {**ref.state_dict, "fc.bias": torch.tensor([float("nan")])}
    with pytest.raises(StateDictError, match="NaN"):
        to_torch(save_safetensors(nan))

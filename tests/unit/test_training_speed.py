"""The fast training paths keep the results: the loss pass, CUDA against the CPU, CUDA graphs.

CUDA tests run where a GPU exists and are reported as skipped (with the reason) elsewhere.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from atlas.networks import from_state_dicts, to_state_dict, torch_network
from atlas.tasks import get_task
from atlas.training import TrainingConfig, batched, evaluation, graphed_step, step, train_population
from atlas.training.adam import BatchedAdam
from atlas.training.admission import estimate_population, population_shape
from atlas.training.batched import PopulationTraining
from atlas.training.step import population_parameters, training_step

pytestmark = pytest.mark.usefixtures("one_torch_thread")

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
SMALL = {"f_max": 5, "delay_max": 1}
FAST_PHASES = {
    "batch_size": 8,
    "learning_rate": 3e-2,
    "stall_patience": 1,
    "plateau_patience": 1,
    "checkpoint_every": 1,
    "dtype": "float64",
}
"""A float64 recipe whose networks change phase and rate within a few epochs of SMALL."""


def test_epoch_loss_equals_pytorch_modules_over_the_training_set(reference_networks, monkeypatch):
    """population_mse over several chunks = nn.RNN/GRU/LSTM's float64 loss on the whole set."""
    names = ("delayed_vanilla_20_i100", "reproduction_gru_20_i100", "reproduction_lstm_20_i100")
    for ref in (r for r in reference_networks if r.name in names):
        train = get_task(ref.task).training_set()
        net = torch_network(ref.state_dict).double()
        with torch.no_grad():
            expected = (net(train.inputs.double()) - train.targets.double()).pow(2).mean()
        population = from_state_dicts([ref.state_dict, ref.state_dict])
        per_trial = 2 * train.inputs.shape[1] * population.state_size
        # chunks of 23 trials, the last one shorter
        monkeypatch.setattr(evaluation, "STATE_ELEMENTS_PER_CHUNK", per_trial * 23)
        for dtype, rtol in ((torch.float64, 1e-12), (torch.float32, 1e-4)):
            losses = evaluation.population_mse(population.to(dtype), train)
            assert losses.dtype == dtype
            np.testing.assert_allclose(losses.double().numpy(), float(expected), rtol=rtol)


@pytest.mark.parametrize("architecture", ["gru", "lstm"])
def test_epoch_loss_in_groups_and_chunks_equals_each_networks_own(architecture, monkeypatch):
    """A gated population of 40 evaluated in the training step's groups (16, 16, 8 at one
    thread) and in chunks of 23 trials cut by the per-step budget: each network's loss is its
    own nn.GRU/nn.LSTM's over the whole set, float64."""
    train = get_task("reproduction", ts_max=30).training_set()
    population = PopulationTraining(
        get_task("reproduction", ts_max=30), architecture, 10, range(40), TrainingConfig()
    ).population.double()
    monkeypatch.setattr(evaluation, "STATE_ELEMENTS_PER_STEP", 16 * population.units * 23)
    losses = evaluation.population_mse(population, train)
    expected = []
    for k in range(population.count):
        net = torch_network(to_state_dict(population, k)).double()
        with torch.no_grad():
            expected.append((net(train.inputs.double()) - train.targets.double()).pow(2).mean())
    np.testing.assert_allclose(losses.numpy(), torch.stack(expected).numpy(), rtol=1e-12)


@needs_cuda
@pytest.mark.parametrize("architecture", ["vanilla", "gru", "lstm"])
def test_training_on_cuda_equals_the_cpu(architecture):
    """Through phase changes and networks leaving the batch, float64: same outcomes."""
    task = get_task("delayed", **SMALL)
    common = {**FAST_PHASES, "max_epochs": 5}
    runs = [
        train_population(task, architecture, 6, [1, 2, 3], TrainingConfig(**common, device=d))
        for d in ("cpu", "cuda")
    ]
    for cpu, gpu in zip(*runs, strict=True):
        assert (cpu.status, cpu.epochs) == (gpu.status, gpu.epochs)
        # as batched == alone in test_training: float64 sums in another order, through Adam
        np.testing.assert_allclose(gpu.loss_curve, cpu.loss_curve, rtol=1e-6)
        for key, value in cpu.final_state_dict.items():
            difference = (gpu.final_state_dict[key].cpu() - value).norm() / value.norm()
            assert difference < 1e-6, (architecture, key, float(difference))


@needs_cuda
def test_an_epochs_upload_and_steps_never_wait_for_the_gpu():
    """On CUDA, an epoch's minibatch indices (from pinned memory) and its minibatch steps make
    no host synchronisation (PyTorch's sync debug mode raises on one)."""
    run = PopulationTraining(
        get_task("delayed", **SMALL), "gru", 8, [1, 2, 3], TrainingConfig(device="cuda")
    )
    adam = BatchedAdam(population_parameters(run.population), run.adam.lr)
    batches = run.order.epoch("cuda")  # the first: kernels, pinned block, allocator warm
    assert batches.device.type == "cuda"
    training_step(run.population, adam, run.inputs[batches[:, :8]], run.targets[batches[:, :8]])
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for batch in run.order.epoch("cuda").split(8, dim=1):
            training_step(run.population, adam, run.inputs[batch], run.targets[batch])
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("architecture", ["gru", "lstm"])
def test_a_step_in_groups_of_networks_equals_one_sweep_of_all(architecture, monkeypatch):
    """A gated population of 40 swept in groups (16, 16 and 8 at one thread; 32 and 8 at two)
    takes the step that one sweep of all 40 takes: the same losses, gradients and updated
    weights."""
    run = PopulationTraining(
        get_task("reproduction", ts_max=30), architecture, 20, range(40), TrainingConfig()
    )
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert [g.stop - g.start for g in step.sweep_groups(run.population)] == [16, 16, 8]
        torch.set_num_threads(2)
        assert [g.stop - g.start for g in step.sweep_groups(run.population)] == [32, 8]
        torch.set_num_threads(1)
        batch = run.order.epoch()[:, :32]
        results = [grouped_step(run, batch, in_groups, monkeypatch) for in_groups in (True, False)]
    finally:
        torch.set_num_threads(threads)
    (grouped_losses, grouped_gradients, grouped), (losses, gradients, whole) = results
    torch.testing.assert_close(grouped_losses, losses, rtol=1e-6, atol=0)
    for grouped_gradient, gradient in zip(grouped_gradients, gradients, strict=True):
        torch.testing.assert_close(grouped_gradient, gradient, rtol=1e-5, atol=1e-9)
    for name, value in whole.items():
        torch.testing.assert_close(grouped[name], value, rtol=1e-6, atol=1e-9)


def grouped_step(run, batch, in_groups: bool, monkeypatch):
    """Losses, gradients and updated weights of one training step from the run's initial
    weights, in groups of networks or as one sweep of all."""
    groups = step.NETWORKS_PER_THREAD if in_groups else {}
    with monkeypatch.context() as patch:
        patch.setattr(step, "NETWORKS_PER_THREAD", groups)
        population = from_state_dicts(run.initial)
        adam = BatchedAdam(population_parameters(population), run.adam.lr)
        losses = training_step(population, adam, run.inputs[batch], run.targets[batch])
    gradients = [p.grad.clone() for p in population_parameters(population)]
    return losses, gradients, population.stacked_parameters()


def test_warm_up_before_recording_leaves_the_weights_and_optimiser_as_they_were():
    """The eager steps before a CUDA graph is recorded update nothing that lasts: the
    parameters, Adam's moments, step counts and rates are back, the gradients are there."""
    run = PopulationTraining(
        get_task("delayed", **SMALL), "vanilla", 6, [1, 2, 3], TrainingConfig(batch_size=8)
    )
    batch = run.order.epoch()[:, :8]
    training_step(run.population, run.adam, run.inputs[batch], run.targets[batch])
    state = graphed_step.step_state(run.population, run.adam)
    before = [t.clone() for t in state]
    graphed_step.warm_up(run.population, run.adam, run.inputs[batch], run.targets[batch])
    for tensor, value in zip(state, before, strict=True):
        assert torch.equal(tensor, value)
    assert all(p.grad is not None for p in population_parameters(run.population))


def test_cuda_graphs_asked_for_on_the_cpu_train_as_without():
    """A config asking for CUDA graphs (as an API job may) trains on the CPU eagerly, with the
    same outcomes as without; recording a graph there would raise."""
    task = get_task("delayed", **SMALL)
    runs = [
        train_population(
            task, "gru", 6, [1, 2], TrainingConfig(**FAST_PHASES, max_epochs=3, cuda_graphs=g)
        )
        for g in (False, True)
    ]
    for eager, asked in zip(*runs, strict=True):
        assert (eager.status, eager.epochs) == (asked.status, asked.epochs)
        np.testing.assert_array_equal(asked.loss_curve, eager.loss_curve)


@needs_cuda
@pytest.mark.parametrize("architecture", ["vanilla", "gru", "lstm"])
def test_training_replayed_from_cuda_graphs_equals_eager_training(architecture, monkeypatch):
    """Through phase changes (Adam restarted, rates cut) and networks leaving the batch (the
    step recorded again), float64 on CUDA: the outcomes of the eager steps. Every network
    goes to phase 2 at its first stall and ends at its first rate cut: on the CPU they end
    at epochs 4-7 (vanilla), 3-6 (GRU) and 3-5 (LSTM)."""
    task = get_task("delayed", **SMALL)
    common = {
        **FAST_PHASES,
        "max_epochs": 12,
        "second_phase_loss": 1.0,
        "second_phase_learning_rate": 1e-2,
        "min_learning_rate": 9e-3,
        "device": "cuda",
    }
    recorded = []

    class CountedGraphedStep(graphed_step.GraphedStep):
        def __init__(self, *args):
            super().__init__(*args)
            recorded.append(args[0].count)

    monkeypatch.setattr(batched, "GraphedStep", CountedGraphedStep)
    runs = [
        train_population(
            task, architecture, 6, range(1, 7), TrainingConfig(**common, cuda_graphs=g)
        )
        for g in (False, True)
    ]
    assert len(recorded) >= 2 and recorded[0] == 6, recorded  # recorded again once networks left
    for eager, graphed in zip(*runs, strict=True):
        assert (eager.status, eager.epochs) == (graphed.status, graphed.epochs)
        np.testing.assert_allclose(graphed.loss_curve, eager.loss_curve, rtol=1e-9)
        for key, value in eager.final_state_dict.items():
            torch.testing.assert_close(graphed.final_state_dict[key], value, rtol=1e-9, atol=0)


def test_admission_counts_a_recorded_step_for_each_minibatch_size():
    """With CUDA graphs a step is recorded per minibatch size, each holding its activations:
    twice the activations when the training set leaves a shorter last minibatch."""
    task = get_task("delayed", **SMALL)
    trials = len(task.training_set())
    activations = {}
    for batch_size in (trials // 2, trials // 2 + 1):  # two equal minibatches, then two sizes
        for graphs in (False, True):
            config = TrainingConfig(batch_size=batch_size, cuda_graphs=graphs)
            estimate = estimate_population(population_shape(task, "gru", 8, 4, config))
            activations[batch_size, graphs] = estimate.parts["activations"]
    half = trials // 2
    assert trials % 2 == 0 and activations[half, True] == activations[half, False]
    assert activations[half + 1, True] == 2 * activations[half + 1, False]

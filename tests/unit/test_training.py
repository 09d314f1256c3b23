"""Batched training: per-network Adam and recipe, batch independence, outcomes, convergence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from atlas.network_status import solves_task
from atlas.networks import RNNPopulation, from_state_dicts, to_state_dict, torch_network
from atlas.networks.two_neuron import endpoint_loss, initial_weights
from atlas.studies import TwoNeuronModel
from atlas.tasks import get_task
from atlas.training import (
    NetworkOutcome,
    TrainingConfig,
    TrainingProgress,
    TwoNeuronTrainingConfig,
    train_population,
    train_two_neuron,
)
from atlas.training.minibatches import MinibatchOrder
from atlas.training.recipe import Recipe
from atlas.training.sensitivities import loss_and_gradient
from atlas.training.two_neuron import first_two_neuron_run

# One torch thread (conftest): these are small matrix products, and the convergence test's
# timing was measured so; its trajectories then do not depend on how threads split sums.
pytestmark = pytest.mark.usefixtures("one_torch_thread")

# A small delayed task (12 amplitude pairs x 2 delays = 24 trials) keeps the exactness tests quick.
SMALL = {"f_max": 5, "delay_max": 1}


def _relative_difference(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).norm() / b[k].norm()) for k in b)


@pytest.mark.parametrize("epoch_loss", ["minibatches", "training_set"])
def test_network_in_population_trains_exactly_like_pytorch_adam(epoch_loss):
    """Network k of a batch follows torch.optim.Adam on an nn.RNN fed the same minibatches,
    and its epoch loss is the mean of the epoch's minibatch losses (the paper's trainer) or the
    loss of the whole training set under the epoch's last weights."""
    task = get_task("delayed", **SMALL)
    config = TrainingConfig(
        max_epochs=3,
        batch_size=8,
        checkpoint_every=1,
        stall_patience=100,
        dtype="float64",
        epoch_loss=epoch_loss,
    )
    seeds = [5, 6, 7]
    outcomes = train_population(task, "vanilla", 6, seeds, config)

    k = 1
    net = torch_network(outcomes[k].initial_state_dict).double()
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    train = task.training_set()
    inputs, targets = train.inputs.double(), train.targets.double()
    order = MinibatchOrder([seeds[k]], len(train), config.batch_size)
    for epoch, checkpoint in enumerate(outcomes[k].checkpoints):
        minibatch_losses = []
        for (batch,) in order.epoch().split(order.batch_size, dim=1):
            optimiser.zero_grad()
            loss = (net(inputs[batch]) - targets[batch]).pow(2).mean()
            loss.backward()
            optimiser.step()
            minibatch_losses.append(loss.item())
        assert _relative_difference(checkpoint.state_dict, net.state_dict()) < 1e-7
        with torch.no_grad():
            whole_set = (net(inputs) - targets).pow(2).mean().item()
        expected = np.mean(minibatch_losses) if epoch_loss == "minibatches" else whole_set
        assert outcomes[k].loss_curve[epoch] == pytest.approx(expected, rel=1e-9)
        assert checkpoint.loss == outcomes[k].loss_curve[epoch]
    assert [c.epoch for c in outcomes[k].checkpoints] == [1, 2]


def test_batched_training_equals_training_alone():
    """Through phase changes at different epochs, network k batched == network k alone."""
    task = get_task("delayed", **SMALL)
    config = TrainingConfig(
        max_epochs=6,
        batch_size=8,
        learning_rate=3e-2,
        stall_patience=1,
        plateau_patience=1,
        checkpoint_every=1,
        dtype="float64",
    )
    together = train_population(task, "gru", 5, [11, 12, 13], config)
    alone = train_population(task, "gru", 5, [12], config)[0]
    mine = together[1]
    assert mine.seed == alone.seed == 12
    assert len(mine.checkpoints) == len(alone.checkpoints) > 0
    for a, b in zip(mine.checkpoints, alone.checkpoints, strict=True):
        assert a.epoch == b.epoch
        assert _relative_difference(a.state_dict, b.state_dict) < 1e-5
    assert _relative_difference(mine.final_state_dict, alone.final_state_dict) < 1e-5
    np.testing.assert_allclose(mine.loss_curve, alone.loss_curve, rtol=1e-5)
    assert (mine.status, mine.epochs, mine.steps) == (alone.status, alone.epochs, alone.steps)
    # The batch really held different networks, whose curves differ from network 12's.
    assert not np.allclose(together[0].loss_curve, mine.loss_curve)


def test_recipe_second_phase_plateaus_and_verdicts():
    config = TrainingConfig(
        stall_patience=2, plateau_patience=1, min_learning_rate=3e-4, max_epochs=100
    )
    recipe = Recipe(5, config)
    # Networks: converging; stuck at 5e-4 (fails); stuck at 1e-4 (unfinished); improving;
    # stuck on the high plateau near the zero output (stays in phase 1).
    schedule = [
        [1e-2, 5e-4, 1e-4, 1e-2, 1e-2],
        [1e-3, 5e-4, 1e-4, 5e-3, 1e-2],
        [1e-5, 5e-4, 1e-4, 2e-3, 1e-2],
        [1e-5, 5e-4, 1e-4, 1e-3, 1e-2],
    ]
    verdicts = [recipe.judge(np.array(losses), epoch + 1) for epoch, losses in enumerate(schedule)]
    assert verdicts[2].finished.tolist() == [True, False, False, False, False]
    assert verdicts[2].status[0] == "converged"
    # No progress after epoch 1: phase 2 after two stalled epochs, then a plateau step.
    assert [bool(v.second_phase[1]) for v in verdicts] == [False, False, True, False]
    assert recipe.lr[1] == pytest.approx(config.second_phase_learning_rate * 0.8)
    assert recipe.lr[3] == recipe.lr[4] == config.learning_rate
    assert not any(v.second_phase[4] for v in verdicts)
    recipe.keep(np.array([1, 2]))
    flat = np.array([5e-4, 1e-4])
    epoch = 4
    while True:
        epoch += 1
        verdict = recipe.judge(flat, epoch)
        if verdict.finished.all():
            break
    # 5e-4 * 0.8**3 < 3e-4: the learning rate is exhausted; best losses decide the verdicts.
    assert epoch == 6
    assert verdict.status.tolist() == ["failed", "unfinished"]


def test_max_epochs_and_divergence_end_training_with_a_verdict():
    recipe = Recipe(2, TrainingConfig(max_epochs=1))
    verdict = recipe.judge(np.array([1e-1, 1e-4]), 1)
    assert verdict.finished.all() and verdict.status.tolist() == ["failed", "unfinished"]
    recipe = Recipe(3, TrainingConfig())
    recipe.judge(np.array([1e-1, 1e-4, 1e-2]), 1)
    verdict = recipe.judge(np.array([np.nan, np.inf, 1e-2]), 2)
    assert verdict.finished.tolist() == [True, True, False]
    assert verdict.status.tolist() == ["failed", "unfinished", ""]


def test_outcomes_callbacks_and_checkpoints():
    task = get_task("delayed", **SMALL)
    config = TrainingConfig(max_epochs=5, batch_size=8, checkpoint_every=2, learning_rate=1e-2)
    done: list[NetworkOutcome] = []
    progress: list[TrainingProgress] = []
    outcomes = train_population(
        task, "lstm", 4, [3, 4], config, on_network_done=done.append, on_progress=progress.append
    )
    assert sorted(o.index for o in done) == [0, 1] and [o.seed for o in outcomes] == [3, 4]
    assert [p.epoch for p in progress] == [1, 2, 3, 4, 5] and progress[-1].active == 0
    initial = RNNPopulation.initialise("lstm", 4, [3, 4])
    validation = task.validation_set()
    for k, outcome in enumerate(outcomes):
        assert outcome.status in ("converged", "failed", "unfinished")
        assert outcome.epochs == 5 and outcome.steps == 5 * 3
        assert outcome.loss_curve.shape == (5,) and outcome.loss_curve.dtype == np.float64
        assert outcome.best_loss == pytest.approx(outcome.loss_curve.min())
        assert outcome.best_loss < outcome.loss_curve[0]
        assert [c.epoch for c in outcome.checkpoints] == [2, 4]
        assert outcome.checkpoints[0].loss == pytest.approx(outcome.loss_curve[1])
        for key, value in to_state_dict(initial, k).items():
            assert torch.equal(outcome.initial_state_dict[key], value)
        with torch.no_grad():
            final = from_state_dicts([outcome.final_state_dict])
            mse = float(final.mse(validation.inputs, validation.targets)[0])
        assert outcome.validation_loss == pytest.approx(mse, rel=1e-4)


def test_config_round_trip_and_unknown_keys():
    config = TrainingConfig(max_epochs=7, device="cpu")
    assert TrainingConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown training config key"):
        TrainingConfig.from_dict({"max_epochs": 3, "learnin_rate": 1e-3})
    with pytest.raises(ValueError):
        TrainingConfig(plateau_factor=1.5)
    with pytest.raises(ValueError, match="initialisation must be one of"):
        TrainingConfig(initialisation="xavier")
    with pytest.raises(ValueError, match="epoch_loss must be one of"):
        TrainingConfig(epoch_loss="validation")


def test_two_neuron_gradient_equals_autograd():
    model = TwoNeuronModel()
    w = initial_weights([0, 1, 2, 3, 4], model).requires_grad_()
    endpoint_loss(w, model).sum().backward()
    loss, grad = loss_and_gradient(w.detach().numpy(), model)
    np.testing.assert_allclose(loss, endpoint_loss(w.detach(), model).numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad, w.grad.numpy(), rtol=1e-9, atol=1e-12)


class _Stop(Exception):
    pass


def test_a_two_neuron_run_is_stopped_inside_a_long_integration():
    """A user's t_final / dt can make one step minutes long: the run's check is called inside
    the integration, a stop there leaves the run before the step (nothing taken, no step end)
    and the same run then trains on to the same end as one never stopped."""
    model = TwoNeuronModel(t_final=60.0, dt=0.01)  # 6,000 RK4 steps a step
    config = TwoNeuronTrainingConfig(max_steps=3, log_every=1)
    seeds = [0, 1, 2]
    calls, ends = [], []

    def stop_at_the_fourth_check() -> None:
        calls.append(1)
        if len(calls) == 4:  # the first step's 3 checks passed; the second step's first one
            raise _Stop

    run = first_two_neuron_run(model, seeds, config)
    with pytest.raises(_Stop):
        train_two_neuron(
            model, seeds, config, start=run, on_step_end=ends.append,
            check=stop_at_the_fourth_check,
        )  # fmt: skip
    assert run.step == 1 and len(ends) == 1  # the first step taken, the second not
    resumed = train_two_neuron(model, seeds, config, start=run)
    whole = train_two_neuron(model, seeds, config)
    np.testing.assert_array_equal(resumed.final_w, whole.final_w)
    np.testing.assert_array_equal(resumed.loss_curves, whole.loss_curves)


@pytest.mark.slow
def test_two_neuron_population_of_1000_mostly_solves():
    model = TwoNeuronModel()
    config = TwoNeuronTrainingConfig()
    outcome = train_two_neuron(model, range(1000), config)
    assert outcome.initial_w.shape == outcome.final_w.shape == (1000, 2, 2)
    assert outcome.loss_curves.shape == (1000, config.max_steps // config.log_every + 1)
    np.testing.assert_array_equal(outcome.initial_w, initial_weights(range(1000), model).numpy())
    # The paper: ~71% of its 10,000 reach loss < 1e-4; this recipe reaches about 75%.
    assert outcome.solved.mean() > 0.6
    assert np.array_equal(outcome.solved, outcome.loss < 1e-4)
    # The reported loss is the loss of the reported W.
    check = np.random.default_rng(0).choice(1000, 5, replace=False)
    np.testing.assert_allclose(
        endpoint_loss(torch.from_numpy(outcome.final_w[check]), model).numpy(),
        outcome.loss[check],
        rtol=1e-3,
        atol=1e-8,
    )
    # Both regimes the paper describes are found among the solutions.
    eig = np.linalg.eigvals(outcome.final_w[outcome.solved])
    cycles = (np.abs(eig.imag).max(axis=1) > 0) & (eig.real.max(axis=1) > 1)
    assert 0.3 < cycles.mean() < 0.7


@pytest.mark.slow
def test_small_population_trains_to_the_success_criterion():
    """8 vanilla networks of 20 units reach the 2e-5 criterion on a short delayed task.

    Sized by measurement (CPU time): on this variant (f in 2..5, delays 0..2, trials of 21
    steps: 36 trials) with lr 3e-3 and batches of 12, the last stretch to 2e-5 is slow, and
    other rounding (another CPU; tanh taken as 2 sigmoid(2x) - 1 in the float32 sweep,
    atlas.networks.cells.float32_tanh) gives other trajectories. By epoch 3300, 6 of the 8
    converged on one machine, 1 on another (2026-12-06, the others between 2.1e-5 and 1.6e-4
    in validation), and one CI machine left a network above 2e-4; by epoch 4000 that second
    machine had 3 converged, all 8 below 1.4e-4. With the C kernel (2026-12-07, AMD EPYC,
    gradient sums folded into double totals) 1 had converged by epoch 4000 and 4 by 7000 (at
    epochs 3295, 4299, 4838 and 6491; 17 s of CPU for 8000 epochs). So the test trains to
    epoch 7000 and asks for 2 at the criterion and 6 of the 8 solving the task (validation
    loss below 2e-4, atlas.network_status).
    On the full task at the paper's lr 1e-3, the networks first sit some 150
    epochs (6,750 steps) on the zero-output plateau, which takes minutes on this CPU.
    """
    task = get_task(
        "delayed",
        f_max=5,
        delay_max=2,
        f1_onset=2,
        f2_onset=8,
        response_onset=14,
        trial_length=21,
    )
    config = TrainingConfig(
        max_epochs=7000, learning_rate=3e-3, batch_size=12, checkpoint_every=1000
    )
    outcomes = train_population(task, "vanilla", 20, range(8), config)
    converged = [o for o in outcomes if o.status == "converged"]
    assert len(converged) >= 2, [(o.status, o.best_loss) for o in outcomes]
    solutions = [o for o in outcomes if solves_task(o.validation_loss)]
    assert len(solutions) >= 6, [f"{o.validation_loss:.2e}" for o in outcomes]
    for outcome in converged:
        assert outcome.loss_curve[-1] == outcome.best_loss < config.success_loss
        assert outcome.validation_loss < config.failure_loss
        assert outcome.epochs < config.max_epochs
        assert [c.epoch for c in outcome.checkpoints] == list(range(1000, outcome.epochs, 1000))

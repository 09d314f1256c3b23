"""What a piece of work will cost, estimated before it is accepted (admission control).

Pure functions from a job's shape to a `WorkEstimate`; nothing is trained:

- `population_shape(task, architecture, units, count, config)`: the `PopulationShape` of a
  batched training run (`PopulationTraining`: a job, or one chunk of a chart); it reads the
  sizes of the task's training and validation sets, which the task bounds when it validates
  its parameters (atlas.tasks.checks).
- `estimate_population(shape)`: that run's peak memory and work.
- `estimate_two_neuron(model, count, config)`: a two-neuron study's training.
- `WorkEstimate.over(memory_limit, work_limit)`: which budgets an estimate exceeds, in words.

Memory is the peak of the training process' own allocations, in bytes: the trial sets, per
network the parameters with their gradient, Adam's two moments, the best and the initial
weights, the checkpoints kept until the network finishes and the loss curve, and one
training step's activations (saved for backward: K x B x T x units x 4 bytes, times a
per-architecture factor set from measurements) plus one full-set evaluation: the freed memory
of the one is kept by the allocator, not returned, while the other runs.
Work is in multiply-adds, counted for every network training to `max_epochs` (an upper bound:
most stop earlier): forward and backward of each minibatch (3x the forward) plus the
per-epoch evaluation of the training set (1x). `benchmarks/admission.py` sets the estimate
against the peak memory measured while training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from atlas.networks.cells import GATES, STATE_FACTOR
from atlas.studies import TwoNeuronModel
from atlas.tasks import TrialTask
from atlas.training.config import TrainingConfig
from atlas.training.two_neuron import TwoNeuronTrainingConfig

#: Bytes a training step keeps per network, trial, step and unit, over the dtype's size: the
#: tensors autograd saves plus the gradients of the input projection and of the states that
#: backward holds at once (gates + state factor). The saved part is set from the peak resident
#: memory benchmarks/admission.py measures (per unit and step: vanilla about 7, GRU 10.6,
#: LSTM 12.5 in all), above the count of saved tensors (1, 7, 7 with the fused sweep).
ACTIVATION_FACTOR = {
    arch: saved + GATES[arch] + STATE_FACTOR[arch]
    for arch, saved in {"vanilla": 5, "gru": 9, "lstm": 9}.items()
}
#: Copies of the parameters a network holds while training: the parameters, their gradient,
#: Adam's two moments, the best weights and the initial state dict.
PARAMETER_COPIES = 6
#: population_mse keeps a chunk's state under this many elements (atlas.training.evaluation);
#: a step of it holds about 2 x (gates + 3) such tensors (measured: 135 MiB for vanilla).
EVALUATION_STATE_ELEMENTS = 1 << 22
EVALUATION_TENSORS = {arch: 2 * (gates + 3) for arch, gates in GATES.items()}
#: Multiply-adds of one RK4 step of one two-neuron network with its 2 x 4 sensitivity: four
#: derivatives of the (2, 5) state, each a 2 x 2 product per column and its elementwise terms.
TWO_NEURON_STEP_WORK = 4 * (2 * 2 * 5 + 5 * 2 * 3)
#: What one RK4 step of a study costs whatever its size, in multiply-adds at the default work
#: rate (2e9 a second): the numpy calls of the batched step, 35 us measured here for 1 network
#: against 150 us for 1,000. Without it a study of one network over a long trajectory was
#: estimated at 1/350 of its time (QA: a 90-hour study fitted the budget).
TWO_NEURON_STEP_OVERHEAD = 70_000
TWO_NEURON_ARRAYS = 12  # (2, 5) arrays per network during an RK4 step: z, k1..k4, temporaries
DTYPE_BYTES = {"float32": 4, "float64": 8}


@dataclass(frozen=True)
class WorkEstimate:
    """A job's peak memory (bytes) and work (multiply-adds), with the parts they come from."""

    memory_bytes: int
    work: int
    parts: dict[str, int]

    def seconds(self, rate: float) -> float:
        """Wall time at `rate` multiply-adds per second."""
        return self.work / rate

    def over(self, memory_limit: int, work_limit: int) -> list[str]:
        """The budgets this estimate exceeds, each as a sentence; empty when it fits."""
        reasons = []
        if self.memory_bytes > memory_limit:
            reasons.append(
                f"estimated memory {_gib(self.memory_bytes)} exceeds the limit of "
                f"{_gib(memory_limit)}"
            )
        if self.work > work_limit:
            reasons.append(
                f"estimated work {self.work:.3g} multiply-adds exceeds the limit of "
                f"{work_limit:.3g}"
            )
        return reasons

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB"


def parameter_count(architecture: str, units: int, n_inputs: int, n_outputs: int) -> int:
    """Parameters of one network: W_ih, W_hh, both biases, the readout and its bias."""
    rows = GATES[architecture] * units
    return rows * (n_inputs + units + 2) + n_outputs * (units + 1)


@dataclass(frozen=True)
class PopulationShape:
    """What a batched training run's cost depends on."""

    architecture: str
    units: int
    count: int
    training_trials: int
    validation_trials: int
    steps: int  # per trial: the training set's trial length
    n_inputs: int
    n_outputs: int
    config: TrainingConfig


def population_shape(
    task: TrialTask, architecture: str, units: int, count: int, config: TrainingConfig
) -> PopulationShape:
    """The shape of training `count` networks of `architecture` x `units` on `task`."""
    train, valid = task.training_set(), task.validation_set()
    return PopulationShape(
        architecture=architecture,
        units=units,
        count=count,
        training_trials=len(train),
        validation_trials=len(valid),
        steps=max(train.trial_length, valid.trial_length),
        n_inputs=task.n_inputs,
        n_outputs=task.n_outputs,
        config=config,
    )


def estimate_population(shape: PopulationShape) -> WorkEstimate:
    """Peak memory and work of training the networks of `shape`, each to max_epochs."""
    config, architecture, units, count = shape.config, shape.architecture, shape.units, shape.count
    n_train, n_valid = shape.training_trials, shape.validation_trials
    steps, n_in, n_out = shape.steps, shape.n_inputs, shape.n_outputs
    size = DTYPE_BYTES[config.dtype]
    gates, state = GATES[architecture], STATE_FACTOR[architecture] * units
    batch = min(config.batch_size, n_train)
    params = parameter_count(architecture, units, n_in, n_out)
    # built as float32 arrays; a float64 run holds a converted copy too
    set_copies = 1 + (config.dtype != "float32")
    checkpoints = config.max_epochs // config.checkpoint_every if config.checkpoint_every else 0
    activations = count * batch * steps * (units * ACTIVATION_FACTOR[architecture] + n_in + n_out)
    if config.cuda_graphs and n_train % batch:  # two minibatch sizes: two recorded steps,
        activations *= 2  # each holding its own memory (atlas.training.graphed_step)
    evaluation = max(EVALUATION_STATE_ELEMENTS, count * state) * EVALUATION_TENSORS[architecture]
    parts = {
        "trial_sets": (n_train + n_valid) * steps * (n_in + n_out) * 4 * set_copies,
        "parameters": count * params * size * PARAMETER_COPIES,
        "checkpoints": count * checkpoints * params * size,
        "loss_curves": 3 * count * config.max_epochs * 8,  # grown by doubling, float64
        # both: the tuned allocator (atlas.allocator) keeps a step's freed memory for reuse
        "activations": activations * size,
        "evaluation": evaluation * size,
    }
    per_step = gates * units * (units + n_in) + units * n_out
    work = 4 * count * config.max_epochs * n_train * steps * per_step
    return WorkEstimate(memory_bytes=sum(parts.values()), work=work, parts=parts)


def estimate_two_neuron(
    model: TwoNeuronModel, count: int, config: TwoNeuronTrainingConfig
) -> WorkEstimate:
    """Peak memory and work of a two-neuron study's training (train_two_neuron)."""
    size = DTYPE_BYTES[config.dtype]
    curve_points = config.max_steps // config.log_every + 1
    parts = {
        # W, its gradient, Adam's moments, initial and final W (float64), the loss curve
        "networks": count * (6 * 4 + curve_points + 2) * 8,
        "integration": count * TWO_NEURON_ARRAYS * 10 * size,
    }
    per_step = count * TWO_NEURON_STEP_WORK + TWO_NEURON_STEP_OVERHEAD
    work = (config.max_steps + 1) * model.n_steps * per_step
    return WorkEstimate(memory_bytes=sum(parts.values()), work=work, parts=parts)

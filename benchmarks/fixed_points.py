"""Fixed-point search for a population at once against one network at a time.

64 vanilla networks of 50 units (the paper's three trained 50-unit vanilla reference networks,
delayed / interval / reproduction, cycled, every weight scaled by (1 + 1% noise) so that each is
its own network), 256 starting states each from the network's own validation trajectories plus
noise, zero input. Batched: one `find_fixed_points` call for the population. Baseline: the same
call network by network (how FixedPointFinder-style tools run), with the same optimiser,
iteration budget and starting states, measured in the same run. Rows: the Adam phase alone,
then the whole search (Adam, polishing, duplicates, Jacobians and eigenvalues), then the
covering search the atlas runs (`covering_search`: 64 of those starts, as the analysis takes,
plus box starts, free runs and continuation, with its coverage record; and once more with all
of them).

With `--fpf DIR` (a checkout of github.com/mattgolub/fixed-point-finder, whose
FixedPointFinderTorch runs on this torch), FixedPointFinder itself runs on the same networks as
plain nn.RNN modules, from the same starting states, with its default settings, one network at
a time as it is used; its unique points are then polished by Newton in float64 (starting
states for `find_fixed_points` with no Adam) to count its true fixed points and how many of
them the covering search missed. FixedPointFinder's code is loaded from DIR, never copied.

Measured (2026-12-04, 2 shared cores, one thread, defaults, --fpf, CPU seconds): covering
search as analysed 11.8 (398 starts per network), with all 256 trajectory starts 16.8,
FixedPointFinder 123.4 (161.5 in an earlier run on the busier machine): 10.5x and 7.3x.
FixedPointFinder's 1,612 unique points polish to 227 true fixed points (42 stable); the
covering search finds 187 (42 stable) and lacks 51 of FixedPointFinder's, all unstable.
Again (2026-12-04, later, the other core less busy, systems selected without copying the
networks): covering search 7.0, with all trajectory starts 10.8, FixedPointFinder 51.6: 7.3x
and 4.8x, below issue 14's 10x. The time is polishing: free-run ends and Adam ends that lie
on slow manifolds crawl through all 30 Newton / Levenberg-Marquardt steps, and most of them
are then rejected as neither fixed nor stationary.
Measured (2026-12-05, 2 shared cores, the other one busy with a background training process, one
thread, defaults, --skip-serial --fpf with fixed-point-finder at 1a30417, CPU seconds, two runs
each, FixedPointFinder once before). Before: covering search 5.42 and 5.43, with all trajectory
starts 8.57 and 8.85, FixedPointFinder 49.7: 9.2x and 5.6x. A third of the covering search
polished the free-run ends of the delayed networks, which oscillate under zero input (all their
ends still move by more than 1.4 per step); most of the rest crawled in double precision. After
(polishing solves in float32 while q > slow_tol, unsettled free-run ends not polished, the
vanilla step's float32 tanh as 2 sigmoid(2x) - 1 and q's gradient in closed form for Adam):
covering search 2.88 and 3.00, with all trajectory starts 5.19 and 5.47, FixedPointFinder 55.1
and 53.1: 19.1x and 17.7x (all trajectory starts 10.6x and 9.7x). The covering search finds 184
true fixed points (42 stable, as before) and lacks 52 of FixedPointFinder's 227, all unstable
(51 before: of the three unstable points that only unsettled free-run ends reached, one is
FixedPointFinder's); with all trajectory starts 186, lacking 51.
Gated networks (`--architecture gru|lstm`: the paper's 50-unit `reproduction` GRU or LSTM, the
same perturbation; FixedPointFinderTorch takes nn.GRU as it is and nn.LSTM through a wrapper
with the state [h, c], the atlas' order). Measured (2026-12-06, 2 cores, the other one idle, one
thread, defaults, --fpf with fixed-point-finder at 1a30417, CPU seconds, one run each):
GRU 50: covering search 19.1 (64 fixed points, all stable, largest q 6.3e-33), with all
trajectory starts 37.3, FixedPointFinder 364.8: 19.1x and 9.8x. FixedPointFinder's 16,384
unique points (its duplicates test keeps them apart) include 14,439 with q above 1e-10, and
polishing turns none of them into a fixed point inside the box (2 outside: saturated update
gates, where every state stays put). LSTM 50: covering search 27.8 (192 fixed points, 64
stable, largest q 8.0e-31), all trajectory starts 42.7, FixedPointFinder 176.0: 6.3x and 4.1x;
its 391 unique points (224 with q above 1e-10) polish to 167 true fixed points (39 stable), none
of which the covering search lacks. The search one network at a time runs as fast as the batched
one here (GRU 23.2 s against 23.2, LSTM 22.3 against 23.6): with 256 starts of 50 or 100
dimensions a network's own linear algebra fills the batched factorisations (`BLOCK`), so
batching across networks saves only the per-call overhead that dominates smaller searches.

Usage: python benchmarks/fixed_points.py [--architecture vanilla|gru|lstm] [--networks 64]
       [--starts 256] [--threads 1] [--fpf DIR] [--skip-serial]
The last line is one JSON object with the figures; `speedup` is the baseline's CPU time over
the batched run's (CPU time, not wall time: the machine is shared); `fpf_ratio` is
FixedPointFinder's CPU time over the covering search's (as analysed; `fpf_ratio_all_trajectory`
with all the trajectory starts).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atlas.analysis.fixed_point_conditions import sample_initial_states
from atlas.analysis.fixed_point_coverage import BOX_SLACK, CoverageConfig, covering_search
from atlas.analysis.fixed_point_search import FixedPointConfig, minimise_speed
from atlas.analysis.fixed_points import find_fixed_points, population_system
from atlas.analysis.state_bounds import fixed_point_box
from atlas.networks import (
    RNNPopulation,
    from_state_dicts,
    load_state_dict,
    to_state_dict,
    torch_network,
)
from atlas.tasks import get_task
from tests.conftest import reference_dir

ANALYSIS_TRAJECTORY_STARTS = 64
"""Trajectory starts per condition in the analysis (`analyse_fixed_points`' n_initial)."""

SOURCES = {
    "vanilla": (
        "delayed_vanilla_50_i100",
        "interval_vanilla_50_i100",
        "reproduction_vanilla_50_i100",
    ),
    "gru": ("reproduction_gru_50_i100",),
    "lstm": ("reproduction_lstm_50_i100",),
}
"""The paper's trained 50-unit reference networks of each architecture (gated ones exist for
`reproduction` only)."""


def population_and_starts(
    architecture: str, count: int, starts: int
) -> tuple[RNNPopulation, torch.Tensor]:
    """`count` perturbed copies of the reference networks, and starting states for each."""
    generator = torch.Generator().manual_seed(0)
    sources = SOURCES[architecture]
    state_dicts, tasks = [], []
    for k in range(count):
        folder = reference_dir() / "networks" / sources[k % len(sources)]
        original = load_state_dict(folder / "weights.pt")
        noise = {
            n: 1 + 0.01 * torch.randn(v.shape, generator=generator) for n, v in original.items()
        }
        state_dicts.append({n: v * noise[n] for n, v in original.items()})
        tasks.append(json.loads((folder / "network.json").read_text())["task"])
    population = from_state_dicts(state_dicts)
    states = torch.cat(
        [
            sample_initial_states(population.select([k]), get_task(tasks[k]), starts, seed=k)
            for k in range(count)
        ]
    )
    return population, states


def timed(function, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def adam_phase(population, starts, config):
    system = population_system(population, torch.zeros(population.n_inputs))(starts.dtype)
    return minimise_speed(system.residual, starts, config, system.speed_gradient)


def one_at_a_time(function, population, starts, config):
    return [function(population.select([k]), starts[k : k + 1], config) for k in range(len(starts))]


def full_search(population, starts, config):
    return find_fixed_points(population, torch.zeros(population.n_inputs), starts, config)


def covering(population, starts, config):
    """The atlas's covering search under zero input, every network at once."""
    inputs = torch.zeros(population.count, population.n_inputs)
    network_of = torch.arange(population.count)
    return covering_search(population, inputs, starts, network_of, config, CoverageConfig())


class ConcatenatedStateLSTM(torch.nn.Module):
    """nn.LSTM with its state as one tensor [h, c], the `output, h_n = rnn(input, h0)` form
    FixedPointFinderTorch takes (it supports nn.RNN and nn.GRU as they are, an LSTM through
    such a wrapper); [h, c] is the atlas' LSTM state too."""

    def __init__(self, lstm: torch.nn.LSTM):
        super().__init__()
        self.lstm = lstm
        self.batch_first = lstm.batch_first  # FixedPointFinderTorch reads it

    def forward(self, inputs: torch.Tensor, state: torch.Tensor):
        h, c = state.chunk(2, dim=-1)
        output, (h_n, c_n) = self.lstm(inputs, (h.contiguous(), c.contiguous()))
        return output, torch.cat([h_n, c_n], dim=-1)


def torch_rnn(population: RNNPopulation, k: int) -> torch.nn.Module:
    """Network k's recurrent module, as a FixedPointFinder user hands it over."""
    rnn = torch_network(to_state_dict(population, k)).rnn
    return ConcatenatedStateLSTM(rnn) if population.architecture == "lstm" else rnn


def fixed_point_finder(folder: Path, population, starts) -> tuple[list[np.ndarray], np.ndarray]:
    """FixedPointFinderTorch (defaults, quiet) network by network: each one's unique points,
    and the q of all of them."""
    sys.path.insert(0, str(folder))
    from FixedPointFinderTorch import FixedPointFinderTorch

    found, q = [], []
    for k in range(population.count):
        finder = FixedPointFinderTorch(torch_rnn(population, k), verbose=False)
        zero = np.zeros((1, population.n_inputs), dtype=np.float32)
        with contextlib.redirect_stdout(io.StringIO()):  # it prints despite verbose=False
            unique, _ = finder.find_fixed_points(starts[k].numpy(), zero)
        found.append(np.asarray(unique.xstar))
        q.append(np.asarray(unique.qstar).ravel())
    return found, np.concatenate(q)


def missed_by_atlas(population, fpf_points, atlas_sets, config) -> dict[str, int]:
    """FixedPointFinder's points polished by Newton in float64: how many distinct true fixed
    points (stable ones apart) they give inside the box that holds every fixed point (outside
    it, q rounds to zero where a gate saturates: no fixed point), and how many of those the
    covering search lacks."""
    counts = dict.fromkeys(
        ("fpf_points", "fpf_true_fixed", "fpf_stable", "fpf_outside", "missed", "missed_stable"), 0
    )
    polish_only = FixedPointConfig(adam_steps=0, polish_steps=60)
    zero = torch.zeros(population.n_inputs)
    for k, (points, (ours, _)) in enumerate(zip(fpf_points, atlas_sets, strict=True)):
        counts["fpf_points"] += len(points)
        if not len(points):
            continue
        start = torch.from_numpy(points).double()[None]
        net = population.select([k]).double()
        (polished,) = find_fixed_points(net, zero.double(), start, polish_only)
        box = fixed_point_box(net, zero.double())
        inside = box.contains(torch.from_numpy(polished.states)[None], BOX_SLACK)[0].numpy()
        counts["fpf_outside"] += int((polished.fixed & ~inside).sum())
        true = polished.states[polished.fixed & inside]
        stable = polished.stable[polished.fixed & inside]
        counts["fpf_true_fixed"] += len(true)
        counts["fpf_stable"] += int(stable.sum())
        mine = ours.states[ours.fixed]
        for state, is_stable in zip(true, stable, strict=True):
            gap = np.abs(mine - state).max(-1).min() if len(mine) else np.inf
            if gap > 1e-6:
                counts["missed"] += 1
                counts["missed_stable"] += int(is_stable)
    return counts


def same_points(batched, serial) -> int:
    """Networks whose true fixed points agree (same count, same states within 1e-8)."""
    agree = 0
    for a, b in zip(batched, serial, strict=True):
        fa, fb = a.states[a.fixed], b[0].states[b[0].fixed]
        if len(fa) == len(fb) and (
            len(fa) == 0 or np.abs(fa[:, None] - fb[None]).max(-1).min(1).max() < 1e-8
        ):
            agree += 1
    return agree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", choices=tuple(SOURCES), default="vanilla")
    parser.add_argument("--networks", type=int, default=64)
    parser.add_argument("--starts", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fpf", type=Path, help="a checkout of fixed-point-finder")
    parser.add_argument("--skip-serial", action="store_true", help="no one-at-a-time rows")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = FixedPointConfig()
    population, starts = population_and_starts(args.architecture, args.networks, args.starts)
    full_search(population.select([0]), starts[:1, :8], config)  # warm-up

    figures: dict[str, str | float | int] = {
        "architecture": args.architecture,
        "networks": args.networks,
        "starts": args.starts,
        "threads": args.threads,
    }
    rows = []
    _, adam_wall, adam_cpu = timed(adam_phase, population, starts, config)
    batched, wall, cpu = timed(full_search, population, starts, config)
    if not args.skip_serial:
        _, adam_wall_1, adam_cpu_1 = timed(one_at_a_time, adam_phase, population, starts, config)
        serial, wall_1, cpu_1 = timed(one_at_a_time, full_search, population, starts, config)
        rows += [
            ("Adam phase, one network at a time", adam_wall_1, adam_cpu_1, 1.0),
            ("Adam phase, batched", adam_wall, adam_cpu, adam_cpu_1 / adam_cpu),
            ("whole search, one network at a time", wall_1, cpu_1, 1.0),
            ("whole search, batched", wall, cpu, cpu_1 / cpu),
        ]
        figures.update(
            serial_cpu_s=round(cpu_1, 3),
            serial_wall_s=round(wall_1, 3),
            speedup=round(cpu_1 / cpu, 3),
            speedup_wall=round(wall_1 / wall, 3),
            serial_adam_cpu_s=round(adam_cpu_1, 3),
            adam_speedup=round(adam_cpu_1 / adam_cpu, 3),
            networks_agreeing=same_points(batched, serial),
        )
    figures.update(
        batched_cpu_s=round(cpu, 3),
        batched_wall_s=round(wall, 3),
        batched_adam_cpu_s=round(adam_cpu, 3),
        fixed_points=sum(int(s.fixed.sum()) for s in batched),
        slow_points=sum(int((~s.fixed).sum()) for s in batched),
    )
    trajectory = starts[:, :ANALYSIS_TRAJECTORY_STARTS]
    covered, cover_wall, cover_cpu = timed(covering, population, trajectory, config)
    wide, wide_wall, wide_cpu = timed(covering, population, starts, config)
    rows += [
        ("covering search as analysed, batched", cover_wall, cover_cpu, np.nan),
        (f"covering search, {args.starts} trajectory starts", wide_wall, wide_cpu, np.nan),
    ]
    figures.update(
        covering_cpu_s=round(cover_cpu, 3),
        covering_wall_s=round(cover_wall, 3),
        covering_fixed_points=sum(int(s.fixed.sum()) for s, _ in covered),
        covering_stable_points=sum(int((s.fixed & s.stable).sum()) for s, _ in covered),
        covering_max_q_fixed=max(
            (float(s.q[s.fixed].max()) for s, _ in covered if s.fixed.any()), default=None
        ),
        covering_starts_per_network=sum(covered[0][1].starts.values()),
        covering_all_trajectory_cpu_s=round(wide_cpu, 3),
        covering_all_trajectory_fixed_points=sum(int(s.fixed.sum()) for s, _ in wide),
    )
    if args.fpf is not None:
        (fpf_points, fpf_q), fpf_wall, fpf_cpu = timed(
            fixed_point_finder, args.fpf, population, starts
        )
        rows.append(("FixedPointFinder, one network at a time", fpf_wall, fpf_cpu, np.nan))
        figures.update(
            fpf_cpu_s=round(fpf_cpu, 3),
            fpf_wall_s=round(fpf_wall, 3),
            fpf_ratio=round(fpf_cpu / cover_cpu, 3),
            fpf_ratio_all_trajectory=round(fpf_cpu / wide_cpu, 3),
            fpf_points_q_above_1e10=int((fpf_q > 1e-10).sum()),
            **missed_by_atlas(population, fpf_points, covered, config),
            **{
                f"all_trajectory_{name}": value
                for name, value in missed_by_atlas(population, fpf_points, wide, config).items()
                if name.startswith("missed")
            },
        )

    print(
        f"{args.networks} {args.architecture} networks x 50 units x {args.starts} starting states, "
        f"zero input, {args.threads} thread(s); Adam {config.adam_steps} steps, "
        f"polishing up to {config.polish_steps}"
    )
    print(f"{'':40s} {'wall s':>8s} {'cpu s':>8s} {'cpu ratio':>10s}")
    for name, w, c, ratio in rows:
        print(f"{name:40s} {w:8.2f} {c:8.2f} {ratio:9.2f}x")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

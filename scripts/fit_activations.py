"""Where the kernels' tanh (atlas/networks/kernels/activations.h) gets its numbers, and its check.

    python scripts/fit_activations.py          # the two polynomials' coefficients
    python scripts/fit_activations.py --check  # the built kernel on every float32 in [0, 9.6]

Fits: minimax in relative error (Lawson's iteratively reweighted least squares on a dense grid,
mpmath's values as the truth), coefficients rounded to float32 as the header writes them.
"""

from __future__ import annotations

import argparse

import mpmath
import numpy as np
import torch

SMALL = 0.4  # below it tanh x = x + x^3 P(x^2)
HALF_LN2 = float(np.log(2) / 2)  # expm1(r) = r + r^2 Q(r) for |r| <= ln 2 / 2


def minimax(
    columns: np.ndarray, target: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, float]:
    """Coefficients c minimising max |columns c - target| * weight, and that maximum."""
    mass = np.full(len(target), 1 / len(target))
    for _ in range(300):
        root = np.sqrt(mass) * weight
        coefficients = np.linalg.lstsq(columns * root[:, None], target * root, rcond=None)[0]
        error = np.abs(columns @ coefficients - target) * weight
        mass = mass * error / (mass * error).sum()
    return coefficients, float(error.max())


def fit_small(degree: int = 3) -> tuple[np.ndarray, float]:
    x = np.linspace(1e-3, SMALL, 3000)
    exact = np.array([float(mpmath.tanh(v)) for v in x])
    columns = np.stack([x**3 * (x**2) ** i for i in range(degree + 1)], axis=1)
    return minimax(columns, exact - x, 1 / exact)


def fit_expm1(degree: int = 5) -> tuple[np.ndarray, float]:
    r = np.concatenate([np.linspace(-HALF_LN2, -1e-4, 3000), np.linspace(1e-4, HALF_LN2, 3000)])
    exact = np.array([float(mpmath.expm1(v)) for v in r])
    columns = np.stack([r ** (2 + i) for i in range(degree + 1)], axis=1)
    return minimax(columns, exact - r, 1 / np.abs(exact))


def check() -> None:
    """The kernel's tanh on every float32 from 0 to 9.6 against float64, in ulps."""
    from atlas.networks.kernels import vanilla

    top = torch.tensor(9.6).view(torch.int32).item()
    worst, at = 0.0, 0.0
    for start in range(0, top, 1 << 24):
        x = torch.arange(start, min(start + (1 << 24), top), dtype=torch.int32).view(torch.float32)
        exact = torch.tanh(x.double())
        nearest = exact.float().abs()
        spacing = (torch.nextafter(nearest, torch.tensor(float("inf"))) - nearest).double()
        errors = (vanilla.tanh(x).double() - exact).abs() / spacing
        if errors.max().item() > worst:
            worst, at = errors.max().item(), x[errors.argmax()].item()
    print(f"tanh: at most {worst:.3f} ulp from float64 (at {at:.6g})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check the built kernel instead")
    if parser.parse_args().check:
        check()
        return
    for name, (coefficients, error) in {"P": fit_small(), "Q": fit_expm1()}.items():
        rounded = ", ".join(np.format_float_positional(np.float32(c)) for c in coefficients)
        print(f"{name} (lowest degree first, relative error {error:.2e}): {rounded}")


if __name__ == "__main__":
    main()

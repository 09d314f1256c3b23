"""Compile a kernel's C source once per machine and load it with ctypes.

The shared library is cached under $ATLAS_KERNEL_CACHE (default: $XDG_CACHE_HOME/atlas/kernels,
else ~/.cache/atlas/kernels), named by a hash of its source and headers, the compiler command
and this platform, so a changed source or compiler builds afresh and concurrent processes never
load a half-written file (each writes its own and renames it into place). Where no C compiler works,
or `ATLAS_NATIVE_KERNELS=off`, `load` returns None and callers keep their PyTorch path: the
kernels are a speed-up, never a requirement.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shlex
import subprocess
import tempfile
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

SOURCES = Path(__file__).parent
# -Wno-psabi: the activations take vectors by value, always inlined, so no ABI is crossed
FLAGS = ("-O3", "-std=gnu11", "-fopenmp", "-fPIC", "-shared", "-Wno-psabi")


def cache_dir() -> Path:
    if folder := os.environ.get("ATLAS_KERNEL_CACHE"):
        return Path(folder)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "atlas" / "kernels"


def enabled() -> bool:
    return os.environ.get("ATLAS_NATIVE_KERNELS", "on").lower() not in {"off", "0", "false"}


def _compile(source: Path, target: Path, command: list[str]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".so", delete=False) as part:
        partial = Path(part.name)
    try:
        subprocess.run(
            [*command, str(source), "-o", str(partial)],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


@cache
def load(name: str) -> ctypes.CDLL | None:
    """The kernel `name` (SOURCES/<name>.c, with the headers beside it) built for this machine,
    or None where it cannot be."""
    if not enabled():
        return None
    source = SOURCES / f"{name}.c"
    command = [*shlex.split(os.environ.get("CC", "cc")), *FLAGS]
    key = hashlib.sha256(
        b"\0".join(
            [
                source.read_bytes(),
                *(header.read_bytes() for header in sorted(SOURCES.glob("*.h"))),
                " ".join(command).encode(),
                platform.platform().encode(),
            ]
        )
    ).hexdigest()[:16]
    target = cache_dir() / f"{name}-{key}.so"
    try:
        if not target.exists():
            log.info("building the %s kernel for this machine, once (into %s)", name, target)
            _compile(source, target, command)
        return ctypes.CDLL(str(target))
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", "") or error
        log.warning("kernel %s not built (%s): the PyTorch path runs instead", name, detail)
        return None

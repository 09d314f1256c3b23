"""Task variants: a task under one set of parameters, named by a short stable key.

A network trained on a shortened delayed task solves another task than one trained on the
paper's: its solutions are grouped, counted and classified apart. The key is what the atlas
files them under: `default` for the task's own parameters, otherwise a digest of the full
parameter set (so two jobs with equal parameters meet in one variant, whatever order or
spelling they were given in).
"""

from __future__ import annotations

import hashlib
import json

from atlas.tasks.base import Task
from atlas.tasks.declared import DeclaredTask
from atlas.tasks.registry import get_task

DEFAULT_VARIANT = "default"
DIGEST_DIGITS = 8


def variant_key(task: Task) -> str:
    """`default`, or `p` followed by 8 hex digits of the parameters' canonical JSON.

    A user's stored task is always keyed by its digest: its parameters include the
    declaration's version, so the networks of two versions never share a variant.
    """
    parameters = task.parameters()
    stored = isinstance(task, DeclaredTask) and task.version is not None
    if not stored and parameters == get_task(task.name).parameters():
        return DEFAULT_VARIANT
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"))
    return "p" + hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_DIGITS]

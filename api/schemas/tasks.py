"""What `/tasks` returns (each task's declaration as data) and an example of what it takes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class InputEventOut(BaseModel):
    edge_type: int = Field(description="The edge type this pulse labels in a reduced graph.")
    duration: int = Field(description="Steps the pulse lasts.")


class TaskOut(BaseModel):
    name: str = Field(description="Short name: the key used by `/solutions?task=`.")
    long_name: str
    aliases: list[str] = Field(description="Other names accepted wherever a task is named.")
    kind: str = Field(description="`trials` (discrete time) or `continuous` (two-neuron study).")
    description: str
    inputs: list[str] = Field(description="Input channel names, in order.")
    outputs: list[str] = Field(description="Output names, in order.")
    parameters: dict[str, Any] = Field(description="Default parameters; jobs may override them.")
    input_events: dict[str, InputEventOut] | None = Field(
        default=None, description="Pulses the reduced-dynamics graph applies (trial tasks)."
    )
    version: int | None = Field(
        default=None,
        description="A user's task: the declaration's version (also its `version` parameter).",
    )
    declaration: dict[str, Any] | None = Field(
        default=None,
        description="The declaration (docs/tasks.md) for trial tasks: periods, sets, probes, ...",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "reproduction",
                    "long_name": "interval_reproduction",
                    "aliases": ["interval_reproduction", "rsg"],
                    "kind": "trials",
                    "description": "Ready, Set ts steps later; produce Go ts steps after Set.",
                    "inputs": ["ready", "set"],
                    "outputs": ["go"],
                    "parameters": {"trial_length": 150, "ts_min": 20, "ts_max": 50},
                    "input_events": {"set": {"edge_type": 2, "duration": 5}},
                }
            ]
        }
    }


DECLARATION_EXAMPLE: dict[str, Any] = {
    "name": "cue_response",
    "description": "A cue of sign +/-1, a delay, then answer the cue's sign.",
    "inputs": ["cue"],
    "outputs": ["response"],
    "parameters": {"delay_max": 5},
    "trial_length": 20,
    "periods": [
        {"name": "cue", "onset": 2, "duration": 2, "inputs": {"cue": "amplitude"}},
        {"name": "wait", "duration": "delay"},
        {"name": "response", "duration": 3, "targets": {"response": "sign(amplitude)"}},
    ],
    "training": {"grid": {"amplitude": [-1, 1], "delay": {"from": 1, "to": "delay_max"}}},
    "validation": {"from_set": "training"},
}
"""The smallest useful declaration: trainable, with no graph, features or signature."""

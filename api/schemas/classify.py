"""`POST /classify`: a network (by id, or uploaded) and the type predicted for it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.deps import MAX_ID


class ClassifyById(BaseModel):
    """Classify a solution already in the atlas."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [{"network_id": 42}]}
    )

    network_id: int = Field(ge=1, le=MAX_ID)


class TypeRef(BaseModel):
    id: int
    name: str
    link: str


class TypeProbability(BaseModel):
    type: TypeRef
    probability: float


class PredictorOut(BaseModel):
    networks: int = Field(description="Typed networks of the task the forest was fitted on.")
    types: int = Field(description="Types with enough members to be predicted.")
    min_members: int = Field(description="Members a type needs to be a class of the forest.")
    trees: int
    includes_this_network: bool = Field(
        description="The network asked about is one of the training networks (by id only)."
    )


class ClassificationOut(BaseModel):
    task: str
    network_id: int | None = Field(description="The solution classified; null for an upload.")
    validation_loss: float | None = Field(
        description="Validation MSE of the network on its task (of the uploaded weights, or "
        "the one stored with the solution)."
    )
    features: dict[str, float] = Field(description="The neural features the forest was given.")
    predicted_type: TypeRef
    probabilities: list[TypeProbability] = Field(description="Every class, most probable first.")
    actual_type: TypeRef | None = Field(description="The type from the network's own graph.")
    actual_status: str = Field(
        description="`stored` (the atlas' type of the solution), `matched` (an upload's graph "
        "is isomorphic to a stored type's), `new` (its graph matches no stored type), or, "
        "where no type is known, why: `unavailable` (the graph could not be built), `skipped` "
        "(an upload that is no solution: validation loss not below 2e-4) or the solution_type "
        "analysis step's state (`pending`, `running`, `skipped`, `failed`)."
    )
    actual_detail: str | None = Field(description="Why no actual type is given, if none is.")
    predictor: PredictorOut

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "task": "reproduction",
                    "network_id": 42,
                    "validation_loss": None,
                    "features": {"angle": 61.2, "svm": 0.8},
                    "predicted_type": {
                        "id": 3,
                        "name": "reproduction-1a2b3c4d",
                        "link": "/types/3",
                    },
                    "probabilities": [
                        {
                            "type": {
                                "id": 3,
                                "name": "reproduction-1a2b3c4d",
                                "link": "/types/3",
                            },
                            "probability": 0.82,
                        },
                        {
                            "type": {
                                "id": 5,
                                "name": "reproduction-9f8e7d6c",
                                "link": "/types/5",
                            },
                            "probability": 0.18,
                        },
                    ],
                    "actual_type": {"id": 3, "name": "reproduction-1a2b3c4d", "link": "/types/3"},
                    "actual_status": "stored",
                    "actual_detail": None,
                    "predictor": {
                        "networks": 120,
                        "types": 4,
                        "min_members": 2,
                        "trees": 100,
                        "includes_this_network": True,
                    },
                }
            ]
        }
    }


class PredictorTypeOut(TypeRef):
    members: int = Field(description="Training networks of the type (typed, with features).")


class PredictorScoreOut(BaseModel):
    task: str
    variant: str = Field(description="The task variant (parameter set) the predictor is for.")
    networks: int = Field(description="Typed networks with neural features it learns from.")
    types: list[PredictorTypeOut] = Field(description="Its classes, largest first.")
    min_members: int = Field(description="Members a type needs to be a class of the forest.")
    trees: int
    splits: int = Field(description="Stratified shuffle splits scored.")
    test_share: float = Field(
        description="Share of the networks held out per split: 0.1 (the paper's 90/10), or "
        "one network per type where that is more."
    )
    kappa_mean: float = Field(description="Cohen's kappa of the held-out predictions, mean.")
    kappa_std: float
    kappa_per_split: list[float]

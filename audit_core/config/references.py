"""The ``references:`` section and the model kinds shared with ``shadow:``: what the attacker's reference and
shadow models are, so that they are like the target (the target's own estimator, architecture or training
code, outputs the user computed, or dynaudit's recipe)."""

from typing import Literal

from pydantic import Field

from audit_core.config.base import StrictModel, kinds
from audit_core.config.targets import (
    ImportPath,
    NoShadowConfig,
    PredictionsShadowConfig,
    TrainedShadowConfig,
    _PredictionTable,
)
from audit_core.core.probability import OutputKind

#: target.kind -> the model kind ``auto`` means for it (targets missing here: auto refuses)
AUTO_KINDS = {"sklearn": "clone", "torch_state_dict": "architecture", "trained": "recipe"}
#: model kind -> the target kinds it can be made from (kinds missing here suit any target)
KIND_TARGETS = {"clone": ("sklearn",), "architecture": ("torch_state_dict",)}


class AutoModelsConfig(StrictModel):
    """The target's own kind: clones of a scikit-learn target, a state dict target's architecture, the recipe
    for a target dynaudit trained."""

    kind: Literal["auto"] = "auto"


class CloneModelsConfig(StrictModel):
    """``sklearn.base.clone`` of the scikit-learn target, every ``random_state`` set from the model's seed."""

    kind: Literal["clone"] = "clone"


class ArchitectureModelsConfig(StrictModel):
    """The state dict target's architecture factory and kwargs, trained with the recipe's optimiser."""

    kind: Literal["architecture"] = "architecture"


class FunctionModelsConfig(StrictModel):
    """The user's training code: ``train(features, labels, *, n_classes, seed)`` returning an object with
    ``predict_proba``, a torch module, or a callable from records to what ``output`` names."""

    kind: Literal["function"] = "function"
    function: ImportPath = Field(description="The training function, package.module:name.")
    output: OutputKind | None = Field(
        None,
        description="What the torch modules and callables it returns give per class: logits or "
        "probabilities; default: what the target returns (target.output). Objects with predict_proba give "
        "probabilities.",
    )


class RecipeModelsConfig(StrictModel):
    """dynaudit's own network trained with ``recipe`` (the target's kind for ``target.kind: trained``)."""

    kind: Literal["recipe"] = "recipe"


class PredictionsReferencesConfig(_PredictionTable):
    """Reference models' outputs computed elsewhere: one row per (model, record), whether the record trained
    that model, one column per class."""

    kind: Literal["predictions"] = "predictions"
    model_column: str = Field("model", description="Column with the reference model's index (0..R-1).")
    in_training_column: str = Field("in_training", description="Boolean column: the record trained it.")


ReferencesConfig = kinds(
    "auto",
    AutoModelsConfig,
    CloneModelsConfig,
    ArchitectureModelsConfig,
    FunctionModelsConfig,
    RecipeModelsConfig,
    PredictionsReferencesConfig,
)

ShadowConfig = kinds(
    "auto",
    AutoModelsConfig,
    CloneModelsConfig,
    ArchitectureModelsConfig,
    FunctionModelsConfig,
    TrainedShadowConfig,
    PredictionsShadowConfig,
    NoShadowConfig,
)


def resolved_kind(kind: str, target_kind: str, field: str) -> str:
    """The model kind ``kind`` means for a ``target_kind`` target; raises ValueError (one sentence) when
    ``auto`` cannot know how the target was trained or a kind does not fit the target."""
    recipe = "'trained'" if field.startswith("shadow") else "'recipe'"  # the shadow's name for the recipe
    if kind == "auto":
        if target_kind not in AUTO_KINDS:
            raise ValueError(
                f"{field} 'auto' cannot know how the target (target.kind {target_kind!r}) was trained, and "
                "models unlike the target understate its risk (a reference of another kind misses what the "
                f"target memorises); set {field} to 'function' (your training code) or 'predictions' "
                f"(outputs you computed), or {recipe} to choose dynaudit's own network on purpose"
            )
        return AUTO_KINDS[target_kind]
    if kind in KIND_TARGETS and target_kind not in KIND_TARGETS[kind]:
        raise ValueError(
            f"{field} {kind!r} needs a {' or '.join(KIND_TARGETS[kind])} target, but target.kind is "
            f"{target_kind!r}; use 'function', 'predictions' or {recipe}"
        )
    return kind

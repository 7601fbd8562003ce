"""Sentences of the report's methodology section: what the shadow and reference models are."""

from typing import Any

from audit_core.config import resolved_kind


def shadow_sentence(config: dict[str, Any]) -> str:
    """How the attacker's shadow outputs were obtained, for the methodology section."""
    kind = config["shadow"]["kind"]
    if kind == "predictions":
        return (
            "The shadow outputs were supplied as precomputed predictions on population records, each marked "
            "as in or out of the reference model's training set; shadow-based attacks calibrate on them."
        )
    if kind == "none":
        return "The attacker has no shadow model; attacks that calibrate on one were skipped."
    what = MODEL_KINDS_TEXT[resolved_kind(kind, config["target"]["kind"], "shadow.kind")]
    return (
        f"Shadow models ({config['shadow_models']}) are {what}, "
        "trained on one half of the population records; threshold, shadow-model and the paper's LiRA attacks "
        "calibrate on their outputs for that half (members) and the other (non-members), never on the "
        "audited records. The threshold and label-only query attacks learn there which side of their "
        "statistic members lie on: the published one unless the shadow shows it reversed beyond chance, as a "
        "defense can make it (the side is in the AUC notes of metrics.parquet)."
    )


#: resolved model kind -> what the shadow or reference models are, for the methodology section
MODEL_KINDS_TEXT = {
    "clone": "clones of the target's scikit-learn estimator (sklearn.base.clone, seeded per model)",
    "architecture": "the target's own architecture trained with the recipe's optimiser settings",
    "function": "models trained by the user's own training function",
    "recipe": "dynaudit's recipe network",
    "trained": "dynaudit's recipe network",
}


def references_sentence(provenance: dict[str, Any]) -> str:
    """What the reference models are and how they split the audited records, for the methodology section,
    with their fidelity to the target (:mod:`audit_core.audit.fidelity`) when measured."""
    fidelity = provenance.get("reference_fidelity")
    measured = "" if fidelity is None else f" Fidelity to the target: {fidelity['statement']}"
    return _references(provenance["config"]) + measured


#: How LiRA and RMIA set their thresholds and the hyperparameters they choose themselves.
REFERENCE_CALIBRATION = (
    "their decision thresholds, and the settings they choose themselves (LiRA's spread, each record's own or "
    "one global spread; RMIA's a; for RMIA and offline LiRA, the side members lie on), come from attacking "
    "reference models with the others (the choices are in the AUC notes of metrics.parquet)."
)


def _references(config: dict[str, Any]) -> str:
    count = config["reference_models"]
    if not count:
        return "No reference models: LiRA and RMIA were skipped."
    kind = resolved_kind(config["references"]["kind"], config["target"]["kind"], "references.kind")
    if kind == "predictions":
        return (
            f"Reference outputs ({count} models) for LiRA and RMIA were computed by the user elsewhere, each "
            f"audited record marked IN or OUT of each model's training set; {REFERENCE_CALIBRATION}"
        )
    return (
        f"Reference models ({count}) for LiRA and RMIA are {MODEL_KINDS_TEXT[kind]}, on complementary random "
        f"halves of the audited records, so each record is IN for half of them; {REFERENCE_CALIBRATION}"
    )

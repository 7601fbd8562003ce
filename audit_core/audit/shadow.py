"""The attacker's shadow model outputs, by ``shadow.kind``: trained here on population data
(see :func:`audit_core.audit.models.shadow_outputs`), read from reference predictions, or absent."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit_core.audit.signals import LogitSet, check_logits
from audit_core.config import PredictionsShadowConfig
from audit_core.core.errors import AuditInputError, DataError, first_row
from audit_core.data import AuditData
from audit_core.targets import Target
from audit_core.targets.predictions import read_prediction_table


@dataclass(frozen=True)
class ShadowLogits:
    """Shadow logits on records that trained the shadow model(s) (``members``) and on held-out records;
    ``fingerprint`` is the SHA-256 of the file they came from, if any; ``models`` the shadow models
    themselves when dynaudit trained them (query attacks calibrate by querying them)."""

    members: LogitSet
    non_members: LogitSet
    fingerprint: str | None = None
    models: tuple[Target, ...] = ()


def require_numeric_features(data: AuditData, field: str, model_kind: str = "trained") -> None:
    """Raise unless the records are numeric arrays, without missing values, that the torch model of
    ``field`` (``model_kind``) can train on."""
    if not data.population.numeric:
        kind = (
            "no feature columns"
            if data.population.width == 0
            else f"{data.population.features.dtype} records"
        )
        raise AuditInputError(
            f"{field} {model_kind!r} trains a torch network on numeric features, but the {data.name} data "
            f"have {kind}; expected numeric features, or a {field} that needs no training."
        )
    for part, split in data.splits().items():
        missing = split.missing()
        if missing.any():
            instead = (
                "audit a model that takes them (target.kind sklearn, e.g. a HistGradientBoostingClassifier)"
                if field == "target.kind"
                else f"give {field} a kind that trains no torch network (clone of a scikit-learn target, "
                "function or predictions)"
            )
            raise AuditInputError(
                f"{field} {model_kind!r} trains a torch network, which cannot take missing values, but "
                f"{data.where(part)} has NaN features in {int(missing.sum())} records (e.g. its "
                f"{first_row(missing)}); impute them, or {instead}."
            )


def read_shadow(config: PredictionsShadowConfig, data: AuditData) -> ShadowLogits:
    """Reference-model outputs on population records; ``in_training_column`` splits them into in and out."""
    table = read_prediction_table(
        config.path,
        field="shadow.path",
        id_column=config.id_column,
        columns=config.columns,
        output=config.output,
        extra=[config.in_training_column],
    )
    in_training = table.frame[config.in_training_column]
    if not (in_training.dtype == bool or set(in_training.unique()) <= {0, 1}):
        raise DataError(
            f"{table.source}: column {config.in_training_column!r} holds {in_training.dtype} values; "
            "expected true/false per record."
        )
    in_training = in_training.to_numpy(dtype=bool)
    if in_training.all() or not in_training.any():
        raise DataError(
            f"{table.source}: column {config.in_training_column!r} is {bool(in_training[0])} for every row; "
            "expected records both in and out of the reference model's training set."
        )
    index = pd.Index(data.population.ids).get_indexer(table.ids)
    stray = index < 0
    if stray.any():
        raise DataError(
            f"{table.source} has {int(stray.sum())} ids that are not population records (e.g. the id of its "
            f"{first_row(stray)}); expected ids of data.population, the attacker's own records."
        )
    population = data.population.subset(index)
    k = data.n_classes
    sets = [
        check_logits(
            table.logits[mask], population.subset(np.flatnonzero(mask)), k, f"the {part} in {table.source}"
        )
        for mask, part in ((in_training, "reference members"), (~in_training, "reference non-members"))
    ]
    return ShadowLogits(*sets, fingerprint=table.digest)

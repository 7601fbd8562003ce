"""The tuning/evaluation split: tuning chooses on one part, every reported number is on the other."""

import numpy as np

from audit_core.audit.signals import Signals
from audit_core.config import AuditConfig, TuneConfig
from audit_core.core.errors import AuditInputError
from audit_core.core.seeding import derive_rng

SPLIT_PARTS = ("members", "non_members", "test")  # what the tuning/evaluation split divides


def tuning_size(part: str, size: int, tuning_fraction: float) -> int:
    """How many of a part's ``size`` points go to the tuning split; one sentence if a side would be empty."""
    n_tuning = round(tuning_fraction * size)
    if not 0 < n_tuning < size:
        raise AuditInputError(
            f"The {part} set has {size} points, too few to split into tuning and evaluation parts at "
            f"tune.tuning_fraction = {tuning_fraction}."
        )
    return n_tuning


def split_signals(
    signals: Signals, tuning_fraction: float, rng: np.random.Generator
) -> tuple[Signals, Signals]:
    """Disjoint (tuning, evaluation) parts of the members, non-members and test points, each split at
    random in proportion ``tuning_fraction``, with the reference models' logits on the same audit points;
    the shadow outputs and the population are shared by both."""
    index: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in SPLIT_PARTS:
        size = len(getattr(signals, name))
        n_tuning = tuning_size(name, size, tuning_fraction)
        order = rng.permutation(size)
        index[name] = (np.sort(order[:n_tuning]), np.sort(order[n_tuning:]))
    parts = [signals.select(**{name: rows[side] for name, rows in index.items()}) for side in (0, 1)]
    return parts[0], parts[1]


def tuning_split(signals: Signals, config: TuneConfig) -> tuple[Signals, Signals]:
    """The (tuning, evaluation) split of ``signals`` that ``config`` asks for (seeded by ``config.seed``)."""
    return split_signals(signals, config.tuning_fraction, derive_rng(config.seed, "tuning-split"))


def split_for_tuning(config: AuditConfig, signals: Signals) -> tuple[Signals, Signals]:
    """The audit's (tuning, evaluation) split, as ``config.tune`` (or the default tuning) asks for."""
    return tuning_split(signals, config.tune or TuneConfig())


def scored_points(tuning: Signals, config: TuneConfig) -> Signals:
    """The tuning part's points every candidate is scored on: at most ``config.trial_points`` members and as
    many non-members (a random subset, seeded by ``config.seed``, where there are more) and every test point.
    A candidate's cost grows with the audited points (the query attacks ask dozens of queries about each);
    on a thousand of each, an attack's AUC or balanced accuracy is measured to about +-0.025 (95%), and the
    chosen settings are confirmed on every point of the evaluation part."""
    rng = derive_rng(config.seed, "trial-points")
    rows = {
        part: np.sort(rng.choice(size, config.trial_points, replace=False))
        for part in ("members", "non_members")
        if (size := len(getattr(tuning, part))) > config.trial_points
    }
    return tuning.select(**rows) if rows else tuning

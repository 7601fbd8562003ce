"""Sanity warnings: audits whose numbers can be computed but not trusted (docs/statistics.md, "Sanity
checks"). They go to the manifest (``warnings``), the report's summary, the CLI and the gate's verdict."""

import numpy as np

from audit_core.audit.analysis import ConditionEvaluation
from audit_core.data import AuditData, Split
from audit_core.stats.family import proportion_bounds
from audit_core.stats.metrics import UNRESOLVED_MARK
from audit_core.stats.names import HEADLINE_FPR

#: The FPR whose TPR the shipped policy limits, and so the non-members an audit needs to resolve it: at least
#: ``1 / FPR`` in each of the two cross-fitting halves.
#: The error of each one-sided bound the chance check compares (the lower side of a 95% interval).
CHANCE_ERROR = 0.025


def shared_records(first: Split, second: Split) -> int:
    """How many records of ``second`` are also in ``first``, by id or by content."""
    shared = np.isin(second.ids, first.ids)
    if first.width and second.width and first.features.dtype == second.features.dtype:
        shared |= np.isin(second.row_digests(), first.row_digests())
    return int(shared.sum())


def balanced_accuracy_bound(
    labels: np.ndarray, correct: np.ndarray, error: float = CHANCE_ERROR
) -> tuple[float, float, int]:
    """The balanced accuracy (the mean recall over the classes present), its lower bound at ``error`` (the
    mean of each class's Clopper-Pearson lower bound at ``error`` over the number of classes: Bonferroni) and
    that number of classes. A model whose predictions do not depend on the label has a balanced accuracy of at
    most one over that number whatever the classes' frequencies, where its accuracy reaches the most frequent
    class's."""
    present = np.unique(labels)
    recalls = [(int(correct[labels == c].sum()), int((labels == c).sum())) for c in present]
    lows = [proportion_bounds(hits, n, error / len(present)).low for hits, n in recalls]
    return float(np.mean([hits / n for hits, n in recalls])), float(np.mean(lows)), len(present)


def sanity_warnings(
    data: AuditData, baseline: ConditionEvaluation, test_labels: np.ndarray, audited_non_members: int
) -> list[str]:
    """One sentence per problem: the test set overlaps the non-members, the population overlaps the members,
    the undefended target is not shown better than chance (neither its accuracy above the most frequent test
    label's rate nor its balanced accuracy above one over the classes), or too few non-members are audited to
    resolve a TPR at 1% FPR. ``test_labels``: those of the test records ``baseline`` answered (the evaluation
    split's when the run tunes)."""
    warnings = []
    overlap = shared_records(data.non_members, data.test)
    if overlap:
        warnings.append(
            f"{overlap} of {len(data.test)} records of {data.where('test')} are also non-members; accuracy "
            "and attacks are measured on shared records: use a separate test set."
        )
    overlap = shared_records(data.members, data.population)
    if overlap:
        warnings.append(
            f"{overlap} of {len(data.population)} records of {data.where('population')} are members; the "
            "attacker's shadow and reference models then know the audited members: remove them."
        )
    chance = np.bincount(test_labels).max() / len(test_labels)
    accuracy = baseline.test_accuracy
    balanced, balanced_low, classes = balanced_accuracy_bound(test_labels, baseline.test_correct)
    if accuracy.ci_low <= chance and balanced_low <= 1 / classes:
        warnings.append(
            f"The target's test accuracy {accuracy.value:.3f} (95% interval {accuracy.ci_low:.3f} to "
            f"{accuracy.ci_high:.3f}) is within chance ({chance:.3f}, the most frequent label), and so is "
            f"its balanced accuracy {balanced:.3f} (lower bound {balanced_low:.3f}; chance 1/{classes}): a "
            "model that learned nothing leaks nothing, so low attack numbers say nothing; check the target."
        )
    needed = 2 * round(1 / HEADLINE_FPR)
    if audited_non_members < needed:
        warnings.append(
            f"Only {audited_non_members} non-members are audited: TPR at {HEADLINE_FPR:.0%} FPR needs at "
            f"least {needed} ({needed // 2} per cross-fitting half) to be resolved; its values are marked "
            f"{UNRESOLVED_MARK}."
        )
    return warnings

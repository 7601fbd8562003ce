"""Sanity warnings: audits whose numbers can be computed but not trusted (docs/statistics.md, "Sanity
checks"). They go to the manifest (``warnings``), the report's summary, the CLI and the gate's verdict."""

import numpy as np

from audit_core.audit.analysis import ConditionEvaluation
from audit_core.data import AuditData, Split

#: The FPR whose TPR the shipped policy limits, and so the non-members an audit needs to resolve it: at least
#: ``1 / FPR`` in each of the two cross-fitting halves.
RESOLVED_FPR = 0.01


def shared_records(first: Split, second: Split) -> int:
    """How many records of ``second`` are also in ``first``, by id or by content."""
    shared = np.isin(second.ids, first.ids)
    if first.width and second.width and first.features.dtype == second.features.dtype:
        shared |= np.isin(second.row_digests(), first.row_digests())
    return int(shared.sum())


def sanity_warnings(data: AuditData, baseline: ConditionEvaluation, audited_non_members: int) -> list[str]:
    """One sentence per problem: the test set overlaps the non-members, the population overlaps the members,
    the undefended target's accuracy is within its interval of chance (the most frequent test label's rate),
    or too few non-members are audited to resolve a TPR at 1% FPR."""
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
    chance = np.bincount(data.test.labels).max() / len(data.test)
    accuracy = baseline.test_accuracy
    if accuracy.ci_low <= chance:
        warnings.append(
            f"The target's test accuracy {accuracy.value:.3f} (95% interval {accuracy.ci_low:.3f} to "
            f"{accuracy.ci_high:.3f}) is within chance ({chance:.3f}, the most frequent label): a model that "
            "learned nothing leaks nothing, so low attack numbers say nothing; check the target."
        )
    needed = 2 * round(1 / RESOLVED_FPR)
    if audited_non_members < needed:
        warnings.append(
            f"Only {audited_non_members} non-members are audited: TPR at {RESOLVED_FPR:.0%} FPR needs at "
            f"least {needed} ({needed // 2} per cross-fitting half) to be resolved."
        )
    return warnings

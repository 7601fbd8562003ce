"""The report's per-record exposure: per-class AUCs, the members an attack ranks first (by keyed hash), the
most vulnerable members' TPR at a low FPR, how the record ids are keyed, and who may read the report."""

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from audit_core.report.values import condition_modes, interval
from audit_core.results.risk import MeasuredAuc, class_label, most_exposed_class
from audit_core.results.tables import AuditResult
from audit_core.stats.metrics import tpr_at_fpr_estimate
from audit_core.stats.names import HEADLINE_FPR

VULNERABLE_SHARE = 0.01  # the most vulnerable members by the references' estimate (Aerni et al.'s worst case)
#: The attack whose statistic the references' estimate measures (the gap of its statistic with and without a
#: record): the most vulnerable members' TPR is read with it too, where the strongest attack is another.
ESTIMATE_ATTACK = "lira_online"
PER_CLASS_ROWS = 20  # classes the per-class table shows at most (metrics.parquet has every class)


def per_class_rows(result: AuditResult, attack: str, names: Sequence[str | int] | None = None) -> list[dict]:
    """Per true class (named by ``names``, ``data.classes``, where given), in class order: record counts and
    ``attack``'s AUC on the class's records with its score interval, undefended and under the chosen
    defense; of more than
    :data:`PER_CLASS_ROWS` classes, those with the most audited records (:func:`best_resolved`)."""
    per_class = result.baseline.outcome(attack, result.knowledge[0]).per_class_auc
    counts = {c: (in_class.members, in_class.non_members) for c, in_class in sorted(per_class.items())}
    rows = []
    for c in best_resolved(counts, PER_CLASS_ROWS):
        cells = []
        for ev, knowledge in condition_modes(result, chosen_only=True):
            in_class = ev.outcome(attack, knowledge).per_class_auc.get(c)
            cells.append("—" if in_class is None else interval(in_class.auc))
        members, non_members = counts[c]
        rows.append(
            {"label": class_label(c, names), "members": members, "non_members": non_members, "auc": cells}
        )
    return rows


def exposed_class_sentence(
    result: AuditResult, attack: str, names: Sequence[str | int] | None = None
) -> str | None:
    """The sentence on the class ``attack`` is shown to expose more than all records undefended
    (:func:`most_exposed_class`), its classes named by ``names`` where given; None when none is."""
    outcome = result.baseline.outcome(attack, result.knowledge[0])
    classes = {
        class_label(c, names): MeasuredAuc(in_class.auc.value, in_class.members, in_class.non_members)
        for c, in_class in outcome.per_class_auc.items()
    }
    return most_exposed_class(attack, outcome.auc.value, classes)


def best_resolved(counts: dict[int, tuple[int, int]], limit: int) -> list[int]:
    """The at most ``limit`` classes whose AUC rests on the most records (members, non-members): by the
    smaller count, then the larger, then class order; returned in class order."""
    ranked = sorted(counts, key=lambda c: (-min(counts[c]), -max(counts[c]), c))
    return sorted(ranked[:limit])


def exposed_records(
    result: AuditResult, attack: str, count: int = 10, names: Sequence[str | int] | None = None
) -> list[dict[str, Any]]:
    """The members ``attack`` ranks as most likely members without a defense, by keyed hash only, with their
    class (named by ``names`` where given) and rank percentile among all audit points, undefended and under
    the chosen defense (100 = ranked first)."""
    percentiles = {}
    for ev, knowledge in condition_modes(result, chosen_only=True):
        scores = ev.outcome(attack, knowledge).scores
        percentiles[(ev.condition, knowledge)] = 100 * stats.rankdata(scores) / len(scores)
    baseline = percentiles[(result.baseline.condition, result.knowledge[0])]
    members = np.flatnonzero(result.is_member)
    top = members[np.argsort(-baseline[members], kind="stable")[:count]]
    return [
        {
            "record": result.records[i],
            "label": class_label(int(result.labels[i]), names),
            "percentiles": [f"{p[i]:.1f}" for p in percentiles.values()],
        }
        for i in top
    ]


#: The report's one line on who may read it (on its first page).
READERS = (
    "Readers: only people entitled to know who was in the training data; this report shows per-record "
    "exposure (see Provenance: record ids)."
)


def record_ids_sentence(provenance: dict[str, Any]) -> str | None:
    """The report's sentence on its record ids: how they are keyed, what they link to without the key, and
    what still links with the target model in hand."""
    ids = provenance.get("record_ids")
    if ids is None:
        return None
    key = (
        "your secret id_salt (the same key gives the same ids in every run)"
        if ids["key"] == "id_salt"
        else "a random key drawn for this run and never written anywhere (no one can link them, you neither)"
    )
    return (
        f"Records appear only as keyed hashes ({ids['hash']}) under {key}; without the key a hash links to "
        "no record. Whoever holds the target model and the candidate records could still match the "
        "per-record outputs (scores.parquet) to records without the key; the explorer holds nothing per "
        "record."
    )


def vulnerable_rows(result: AuditResult, attack: str) -> dict[str, Any] | None:
    """The TPR at 1% FPR (threshold over every non-member) on all members and on the 1% most vulnerable
    members by the reference models' estimate, with intervals on the true TPR at 1% FPR
    (:func:`~audit_core.stats.metrics.tpr_at_fpr_estimate`), per column of the exposed-records table: of
    ``attack``, and of :data:`ESTIMATE_ATTACK` where it is another that ran in every column. The strongest
    attack on average can miss the records the estimate ranks first (on a forest, common-class records whose
    confidence the references spread only in logit space); the attack the estimate is made of does not."""
    if result.vulnerability is None:
        return None
    members = np.flatnonzero(result.is_member)
    count = max(1, round(VULNERABLE_SHARE * len(members)))
    vulnerable = members[np.argsort(-result.vulnerability[members], kind="stable")[:count]]
    columns = condition_modes(result, chosen_only=True)
    attacks = [attack]
    ran = (any((o.attack, o.knowledge) == (ESTIMATE_ATTACK, k) for o in ev.outcomes) for ev, k in columns)
    if attack != ESTIMATE_ATTACK and all(ran):
        attacks.append(ESTIMATE_ATTACK)
    rows = []
    for name in attacks:
        by_members: dict[str, list[str]] = {"all": [], f"{100 * VULNERABLE_SHARE:g}% most vulnerable": []}
        for ev, knowledge in columns:
            scores = ev.outcome(name, knowledge).scores
            non_members = np.sort(scores[~result.is_member])[::-1]
            # at most 1% of non-members above it
            threshold = non_members[int(HEADLINE_FPR * len(non_members))]
            for cells, rows_of in zip(by_members.values(), (members, vulnerable), strict=True):
                tpr = float((scores[rows_of] > threshold).mean())
                cells.append(interval(tpr_at_fpr_estimate(tpr, scores[rows_of], non_members, HEADLINE_FPR)))
        rows += [{"attack": name, "members": key, "cells": cells} for key, cells in by_members.items()]
    return {
        "count": count,
        "share": f"{100 * VULNERABLE_SHARE:g}%",
        "fpr": f"{100 * HEADLINE_FPR:g}%",
        "attacks": attacks,
        "rows": rows,
    }

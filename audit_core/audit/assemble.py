"""The audit's result: evaluations, audited points, provenance, the chosen defense and the explorer's data."""

from datetime import datetime
from typing import Any

import numpy as np

from audit_core.audit.analysis import ConditionEvaluation
from audit_core.audit.fidelity import fidelity_advice, reference_fidelity
from audit_core.audit.models import reference_description
from audit_core.audit.sanity import sanity_warnings
from audit_core.audit.signals import (
    Signals,
)
from audit_core.audit.vulnerability import reference_vulnerability
from audit_core.config import AuditConfig, TuneConfig
from audit_core.core.probability import PROBABILITY_FLOOR
from audit_core.core.record_ids import RecordKey
from audit_core.data import AuditData
from audit_core.defenses import DynaNoise
from audit_core.report.explorer import explorer_payload
from audit_core.results.provenance import record_key, run_provenance
from audit_core.results.tables import AuditResult
from audit_core.tuning.search import TuningResult, search_ranges


def chosen_dynanoise(config: AuditConfig, tuning: TuningResult | None) -> DynaNoise | None:
    """The DynaNoise setting the report centres on: the tuned one, else the first configured (or none)."""
    if tuning is not None:
        return tuning.chosen
    built = (d.defense(config.seed) for d in config.defenses)
    return next((d for d in built if isinstance(d, DynaNoise)), None)


def one_hot_answers(signals: Signals) -> bool:
    """Whether the target answered every audited and test record with probability 1 for one class and 0
    (the floor) for the others: a model that releases its label alone
    (:func:`~audit_core.targets.sklearn.releases_labels_only`), or one certain of every record (a
    1-nearest-neighbour classifier)."""
    logits = np.vstack([signals.members.logits, signals.non_members.logits, signals.test.logits])
    certain = logits == 0.0
    return bool((certain.sum(axis=1) == 1).all() and (certain | (logits == np.log(PROBABILITY_FLOOR))).all())


def explorer_data(
    config: AuditConfig, signals: Signals, key: RecordKey, dynanoise: DynaNoise | None, budget: float | None
) -> dict[str, Any] | None:
    """The report explorer's grid around ``dynanoise`` over the tuning ranges, with the tuning's accuracy
    ``budget`` (None without a DynaNoise); its records and noise come from a seed only the record ``key``
    gives."""
    if dynanoise is None:
        return None
    tune = config.tune or TuneConfig()
    return explorer_payload(
        audit_logits=np.vstack([signals.members.logits, signals.non_members.logits]),
        labels=signals.audit_labels,
        is_member=signals.is_member,
        test_logits=signals.test.logits,
        test_labels=signals.test.labels,
        defense=dynanoise,
        ranges=search_ranges(tune),
        budget=budget,
        seed=key.seed("explorer"),
    )


def assemble_result(
    config: AuditConfig,
    data: AuditData,
    signals: Signals,
    evaluations: list[ConditionEvaluation],
    fingerprints: dict[str, str],
    model_cache: dict[str, dict[str, int]],
    started_at: datetime,
    tuning: TuningResult | None = None,
    untuned: str | None = None,
) -> AuditResult:
    """Bundle the evaluations with the ids of the audited points (all of them, or the evaluation split when
    the run tunes), the run's provenance (with the sanity warnings), the chosen defense and the explorer data;
    ``model_cache`` says per role how many shadow/reference models were trained and how many reused;
    ``untuned`` says why a configured tuning chose no setting (a warning)."""
    provenance = run_provenance(config, data, fingerprints, model_cache, started_at)
    provenance["audited_points"] = {"members": len(signals.members), "non_members": len(signals.non_members)}
    provenance["warnings"] = sanity_warnings(
        data, evaluations[0], signals.test.labels, len(signals.non_members)
    ) + ([untuned] if untuned else [])
    provenance["untuned"] = untuned
    fidelity = None
    if signals.references is not None:
        advice = fidelity_advice(config.reference_kind, config.target.kind)
        fidelity = reference_fidelity(signals, reference_description(config, data), advice).as_dict()
    provenance["reference_fidelity"] = fidelity
    provenance["one_hot_answers"] = one_hot_answers(signals)
    dynanoise = chosen_dynanoise(config, tuning)
    chosen = dynanoise.label if dynanoise is not None else None
    if chosen is None and len(evaluations) > 1:
        chosen = evaluations[1].condition
    budget = None if tuning is None else tuning.config.budget
    key = record_key(config)  # exists only here: the result holds the keyed hashes, never the key
    provenance["record_ids"] = key.describe()
    records = key.hash(np.concatenate([signals.members.ids, signals.non_members.ids]))
    return AuditResult(
        run_name=config.run_name,
        evaluations=evaluations,
        records=records,
        labels=signals.audit_labels,
        is_member=signals.is_member,
        provenance=provenance,
        chosen=chosen,
        explorer=explorer_data(config, signals, key, dynanoise, budget),
        tuned=None if tuning is None else tuning.chosen.label,
        vulnerability=reference_vulnerability(signals),
    )

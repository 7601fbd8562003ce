"""The audit's steps as plain functions on plain data; flows/audit.py composes them as Prefect tasks."""

import platform
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats

from audit_core.attacks import ATTACKS
from audit_core.audit.evaluation import ConditionEvaluation, evaluate_condition
from audit_core.audit.shadow import ShadowLogits, read_shadow, require_numeric_features
from audit_core.audit.signals import (
    ReferenceLogits,
    Signals,
    compute_signals,
    reference_logits,
    shadow_signals,
    shadow_split,
    target_signals,
)
from audit_core.config import AuditConfig, DefenseConfig, TuneConfig
from audit_core.core.errors import AuditInputError
from audit_core.core.seeding import derive_rng, derive_seed
from audit_core.data import AuditData, Split, load_data
from audit_core.defenses import DEFENSES, DefenderData, Defense, DynaNoise, Undefended, fit_defense
from audit_core.defenses.serving import PARAMS_FILE, save_params
from audit_core.gate.check import GateVerdict, check_gate, read_metrics
from audit_core.report.context import build_context
from audit_core.report.explorer import explorer_payload
from audit_core.report.plots import pareto_front
from audit_core.report.render import write_report
from audit_core.results.artifacts import staged_run_folder, write_manifest, write_parquet
from audit_core.results.tables import AuditResult, hash_record_ids
from audit_core.targets import Target, TorchTarget, open_target
from audit_core.training import train_classifier
from audit_core.training.cache import ModelCache
from audit_core.training.references import GroupRunner, complementary_in_masks, train_here, train_models
from audit_core.tuning.search import SPLIT_PARTS, Attacker, TuningResult, tune, tuning_size, tuning_split

PACKAGES = (
    "dynaudit",
    "numpy",
    "scipy",
    "scikit-learn",
    "torch",
    "pandas",
    "pyarrow",
    "prefect",
    "weasyprint",
    "skops",
    "onnxruntime",
    "safetensors",
)
PROBE_ROWS = 16  # records per audit part that check_inputs sends through the target
RANDOM_INPUTS = 1000  # queries of the target on random inputs, for HAMP's reference outputs


def load_audit_data(config: AuditConfig) -> AuditData:
    """The audit data named by the config, checked to suit the models dynaudit must train on it."""
    data = load_data(config.data)
    for field, trains in (
        ("target.kind", config.target.kind == "trained"),
        ("shadow.kind", config.shadow.kind == "trained"),
        ("reference_models", config.reference_models > 0),
    ):
        if trains:
            require_numeric_features(data, field)
    return data


def train_target(config: AuditConfig, data: AuditData) -> TorchTarget:
    """Train the target on the member set (the demo's target, trained by dynaudit itself)."""
    seed = derive_seed(config.seed, "target")
    model = train_classifier(
        data.members.features, data.members.labels, data.n_classes, config.recipe, seed=seed
    )
    return TorchTarget(model, source="The trained target")


def build_target(config: AuditConfig, data: AuditData) -> Target:
    """The audited model: trained here for ``target.kind: trained``, else opened from the user's files."""
    return train_target(config, data) if config.target.kind == "trained" else open_target(config.target)


def split_shadow_data(config: AuditConfig, data: AuditData) -> tuple[Split, Split]:
    """The shadow models' training (in) and held-out (out) sets, sized like the members and non-members."""
    rng = derive_rng(config.seed, "shadow-split")
    return shadow_split(data.population, len(data.members), len(data.non_members), rng)


def model_cache(config: AuditConfig) -> ModelCache:
    """The cache of trained shadow and reference models named by the config."""
    return ModelCache(None if config.cache_dir is None else config.cache_dir / "models")


def train_shadows(
    config: AuditConfig, data: AuditData, shadow_in: Split, fingerprints: dict[str, str], cache: ModelCache
) -> list[TorchTarget]:
    """Shadow models trained like the target on the shadow set (population data only), one seed each."""
    return train_models(
        shadow_in,
        np.ones((config.shadow_models, len(shadow_in)), dtype=bool),
        role="shadow",
        n_classes=data.n_classes,
        recipe=config.recipe,
        seed=config.seed,
        fingerprints=fingerprints,
        cache=cache,
        trainer=config.trainer,
    )


def _trained_shadow(
    config: AuditConfig, data: AuditData, fingerprints: dict[str, str], cache: ModelCache
) -> ShadowLogits:
    shadow_in, shadow_out = split_shadow_data(config, data)
    shadows = train_shadows(config, data, shadow_in, fingerprints, cache)
    return ShadowLogits(*shadow_signals(shadows, shadow_in, shadow_out, data.n_classes))


# shadow.kind -> the shadow outputs it gives (None: the attacker has no shadow model)
SHADOWS: dict[str, Callable[[AuditConfig, AuditData, dict[str, str], ModelCache], ShadowLogits | None]] = {
    "trained": _trained_shadow,
    "predictions": lambda config, data, fingerprints, cache: read_shadow(config.shadow, data),
    "none": lambda config, data, fingerprints, cache: None,
}


def shadow_outputs(
    config: AuditConfig, data: AuditData, fingerprints: dict[str, str], cache: ModelCache
) -> ShadowLogits | None:
    """The shadow logits ``config.shadow`` describes: trained (or reused from the cache), read, or none."""
    return SHADOWS[config.shadow.kind](config, data, fingerprints, cache)


def add_models(
    signals: Signals,
    fingerprints: dict[str, str],
    shadow: ShadowLogits | None,
    references: ReferenceLogits | None,
) -> tuple[Signals, dict[str, str]]:
    """The target's signals with the shadow and reference outputs added, and the fingerprints with the
    shadow predictions file's (when the shadow outputs came from one)."""
    pair = None if shadow is None else (shadow.members, shadow.non_members)
    if shadow is not None and shadow.fingerprint:
        fingerprints = {**fingerprints, "shadow": shadow.fingerprint}
    return signals.with_models(pair, references), fingerprints


def train_references(
    config: AuditConfig,
    data: AuditData,
    fingerprints: dict[str, str],
    cache: ModelCache,
    on_model_done: Callable[[int, int], None] | None = None,
    run_groups: GroupRunner = train_here,
) -> tuple[list[TorchTarget], np.ndarray]:
    """Reference models on complementary random halves of the audit points, and their IN/OUT masks;
    ``run_groups`` trains them (:func:`audit_core.training.references.train_models`)."""
    points = data.audit_points()
    in_mask = complementary_in_masks(
        len(points), config.reference_models, derive_rng(config.seed, "references")
    )
    models = train_models(
        points,
        in_mask,
        role="reference",
        n_classes=data.n_classes,
        recipe=config.recipe,
        seed=config.seed,
        fingerprints=fingerprints,
        cache=cache,
        trainer=config.trainer,
        run_groups=run_groups,
        on_model_done=on_model_done,
    )
    return models, in_mask


def trained_signals(
    config: AuditConfig, data: AuditData, cache: ModelCache, shadow_sets: tuple[Split, Split] | None = None
) -> tuple[TorchTarget, dict[str, str], Signals]:
    """Without Prefect, for benchmarks and tests: train the target on the members with the recipe, then the
    shadow and reference models through ``cache``, and query them all. ``shadow_sets`` are the shadow
    models' (in, out) records; by default :func:`split_shadow_data` draws them."""
    target = train_target(config, data)
    fingerprints = {"data": data.fingerprint(), "target": target.fingerprint()}
    shadow_in, shadow_out = shadow_sets or split_shadow_data(config, data)
    shadows = train_shadows(config, data, shadow_in, fingerprints, cache)
    references, in_mask = train_references(config, data, fingerprints, cache)
    return (
        target,
        fingerprints,
        compute_signals(target, shadows, data, shadow_in, shadow_out, references, in_mask),
    )


def evaluate(config: AuditConfig, signals: Signals, defense: Defense) -> ConditionEvaluation:
    """Run the configured attacks against one condition under every configured attacker knowledge."""
    return evaluate_condition(
        signals,
        defense,
        config.attacks,
        seed=config.seed,
        knowledge=config.knowledge,
        max_queries=config.max_queries,
        attack_params=config.attack_params,
    )


def check_inputs(config: AuditConfig) -> None:
    """Check every input before any expensive work: read the data, open the target and query it on a few
    records of each part, read reference predictions, size the shadow split, and make sure some requested
    attack has the inputs it needs.

    Raises :class:`AuditInputError` with one sentence on the first problem. The CLI runs it before
    starting Prefect, so bad input never reaches a flow run or the output folder.
    """
    data = load_audit_data(config)
    target = None if config.target.kind == "trained" else open_target(config.target)
    if target is not None:
        free = config.target.kind == "predictions"  # a table lookup: check every record, not a sample
        target_signals(target, data, limit=None if free else PROBE_ROWS)
    if config.shadow.kind == "trained":
        split_shadow_data(config, data)
    elif config.shadow.kind == "predictions":
        read_shadow(config.shadow, data)
    lacking = {
        "shadow": config.shadow.kind == "none",
        "references": config.reference_models == 0,
        "target_population": target is not None and not target.covers(data.population),
    }
    needs = {name: sorted(n for n in ATTACKS[name].requires if lacking[n]) for name in config.attacks}
    if all(needs.values()):
        details = ", ".join(
            f"{name} needs {' and '.join(n.replace('_', ' ') for n in missing)}"
            for name, missing in needs.items()
        )
        raise AuditInputError(
            f"No requested attack can run ({details}); give a shadow (shadow.kind) or reference models "
            "(reference_models), or request an attack that needs neither, such as label_only."
        )
    if config.tune is not None:
        for part in SPLIT_PARTS:
            tuning_size(part, len(getattr(data, part)), config.tune.tuning_fraction)
    defender_lacks = {
        "shadow": config.shadow.kind == "none",
        "random_inputs": not _random_inputs_possible(config, data),
    }
    for index, defense in enumerate(config.defenses):
        missing = sorted(n for n in DEFENSES[defense.name].requires if defender_lacks[n])
        if missing:
            needs = " and ".join(DEFENDER_INPUTS[n] for n in missing)
            raise AuditInputError(
                f"defenses.{index} ({defense.name}) needs {needs}, which this audit cannot provide; remove "
                "it or change target.kind / shadow.kind."
            )


#: What a fitted defense may need from the defender's side, in words (keys of ``Defense.requires``).
DEFENDER_INPUTS = {
    "shadow": "a shadow model's outputs on its in/out records (shadow.kind trained or predictions)",
    "random_inputs": "the target's answers to random inputs (a model with numeric features, not a "
    "predictions table)",
}


def _random_inputs_possible(config: AuditConfig, data: AuditData) -> bool:
    return config.target.kind != "predictions" and np.issubdtype(data.population.features.dtype, np.number)


def build_defense(defense: DefenseConfig, seed: int) -> Defense:
    """The Defense object for one configured defense (``seed``: the run seed)."""
    return DEFENSES[defense.name](**defense.defense_params(seed))


def defender_data(config: AuditConfig, target: Target, data: AuditData, signals: Signals) -> DefenderData:
    """What the defender computes with its own model: the shadow's outputs on its in/out records (standing
    in for a model the defender trains like the target) and the target's logits on random inputs drawn
    uniformly per feature between the population's minimum and maximum; each absent where impossible."""
    random_logits = None
    if _random_inputs_possible(config, data):
        features = data.population.features
        rng = derive_rng(config.seed, "random-inputs")
        random_inputs = rng.uniform(
            features.min(axis=0), features.max(axis=0), size=(RANDOM_INPUTS, *features.shape[1:])
        ).astype(features.dtype)
        ids = np.array([f"random:{i}" for i in range(RANDOM_INPUTS)])
        random_logits = target.query(Split(random_inputs, np.zeros(RANDOM_INPUTS, dtype=np.int64), ids))
    return DefenderData(
        member_logits=signals.shadow_members.logits if signals.has_shadow else None,
        non_member_logits=signals.shadow_non_members.logits if signals.has_shadow else None,
        random_input_logits=random_logits,
    )


def conditions(config: AuditConfig, defender: DefenderData, tuned: DynaNoise | None = None) -> list[Defense]:
    """The undefended baseline, each configured defense and the tuned DynaNoise (if any), all fitted."""
    defenses = [Undefended(), *(build_defense(d, config.seed) for d in config.defenses)]
    defenses += [tuned] if tuned is not None else []
    return [fit_defense(d, defender, config.seed) for d in defenses]


def tune_dynanoise(
    config: AuditConfig, signals: Signals, defender: DefenderData
) -> tuple[TuningResult, Signals]:
    """Tune DynaNoise on the tuning split (``config.tune``, or the defaults) and return the result with the
    disjoint evaluation split, on which the audit then reports."""
    tune_config = config.tune or TuneConfig()
    tuning, evaluation = tuning_split(signals, tune_config)
    against = Attacker(
        tuple(config.attacks),
        tune_config.knowledge,
        config.seed,
        config.max_queries,
        config.attack_params,
    )
    return tune(tuning, evaluation, defender, tune_config, against), evaluation


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the numbers, and torch's thread count (float sums, and so
    trained weights, can differ in the last bits between thread counts)."""
    versions = {"python": platform.python_version(), "torch_threads": str(torch.get_num_threads())}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def record_salt(config: AuditConfig, fingerprints: dict[str, str]) -> str:
    """The salt of the hashed record ids: the config's secret ``id_salt``, else the data fingerprint."""
    return config.id_salt or fingerprints["data"]


def chosen_dynanoise(config: AuditConfig, tuning: TuningResult | None) -> DynaNoise | None:
    """The DynaNoise setting the report centres on: the tuned one, else the first configured (or none)."""
    if tuning is not None:
        return tuning.chosen
    built = (build_defense(d, config.seed) for d in config.defenses)
    return next((d for d in built if isinstance(d, DynaNoise)), None)


def explorer_data(
    config: AuditConfig,
    signals: Signals,
    evaluations: list[ConditionEvaluation],
    salt: str,
    dynanoise: DynaNoise | None,
    budget: float | None,
) -> dict[str, Any] | None:
    """The report explorer's payload starting at ``dynanoise`` with the tuning's accuracy ``budget`` (None
    without a DynaNoise)."""
    if dynanoise is None:
        return None
    baseline = evaluations[0]
    strongest = max(baseline.outcomes, key=lambda o: o.auc.value)
    ids = np.concatenate([signals.members.ids, signals.non_members.ids])
    return explorer_payload(
        audit_logits=np.vstack([signals.members.logits, signals.non_members.logits]),
        labels=signals.audit_labels,
        is_member=signals.is_member,
        hashed_ids=hash_record_ids(ids, salt),
        exposure=stats.rankdata(strongest.scores),
        test_logits=signals.test.logits,
        test_labels=signals.test.labels,
        defense=dynanoise,
        budget=budget,
        seed=derive_seed(config.seed, "explorer"),
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
) -> AuditResult:
    """Bundle the evaluations with the ids of the audited points (all of them, or the evaluation split when
    the run tunes), the run's provenance, the chosen defense and the explorer data; ``model_cache`` says per
    role how many shadow/reference models were trained and how many reused."""
    provenance = run_provenance(config, data, fingerprints, model_cache, started_at)
    provenance["audited_points"] = {"members": len(signals.members), "non_members": len(signals.non_members)}
    dynanoise = chosen_dynanoise(config, tuning)
    chosen = dynanoise.label if dynanoise is not None else None
    if chosen is None and len(evaluations) > 1:
        chosen = evaluations[1].condition
    budget = None if tuning is None else tuning.config.budget
    salt = record_salt(config, fingerprints)
    return AuditResult(
        run_name=config.run_name,
        evaluations=evaluations,
        record_ids=np.concatenate([signals.members.ids, signals.non_members.ids]),
        labels=signals.audit_labels,
        is_member=signals.is_member,
        provenance=provenance,
        chosen=chosen,
        explorer=explorer_data(config, signals, evaluations, salt, dynanoise, budget),
    )


@dataclass(frozen=True)
class AuditRun:
    """A finished audit without its files: the result, the fitted conditions and the tuning (if any)."""

    result: AuditResult
    defenses: list[Defense]
    tuning: TuningResult | None


def run_audit(config: AuditConfig, data: AuditData | None = None) -> AuditRun:
    """The audit flow's steps as plain calls, without Prefect (benchmarks, tests, notebooks); ``data``
    replaces the config's data when given. :func:`write_run_folder` writes the files."""
    started_at = datetime.now(UTC)
    data = load_audit_data(config) if data is None else data
    target = build_target(config, data)
    fingerprints = {"data": data.fingerprint(), "target": target.fingerprint()}
    cache = model_cache(config)
    shadow = shadow_outputs(config, data, fingerprints, cache)
    references = reference_logits(*train_references(config, data, fingerprints, cache), data)
    signals, fingerprints = add_models(target_signals(target, data), fingerprints, shadow, references)
    defender = defender_data(config, target, data, signals)
    tuning, audited = (None, signals) if config.tune is None else tune_dynanoise(config, signals, defender)
    defenses = conditions(config, defender, None if tuning is None else tuning.chosen)
    evaluations = [evaluate(config, audited, d) for d in defenses]
    counts = {"all": cache.counts()}
    result = assemble_result(config, data, audited, evaluations, fingerprints, counts, started_at, tuning)
    return AuditRun(result, defenses, tuning)


def run_provenance(
    config: AuditConfig,
    data: AuditData,
    fingerprints: dict[str, str],
    model_cache: dict[str, dict[str, int]],
    started_at: datetime,
) -> dict[str, Any]:
    """Config (secrets masked), seed, data sizes and sources, fingerprints, model-cache counts and package
    versions of a run."""
    return {
        "run_name": config.run_name,
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "seed": config.seed,
        "config": config.model_dump(mode="json", exclude={"id_salt"}),
        "data": {
            "name": data.name,
            "n_classes": data.n_classes,
            "sizes": {part: len(split) for part, split in data.splits().items()},
            "sources": data.sources,
        },
        "fingerprints": fingerprints,
        "model_cache": model_cache,
        "versions": package_versions(),
    }


def write_tuning_files(folder: Path, tuning: TuningResult, provenance: dict[str, Any]) -> None:
    """The chosen parameters (``dynanoise-params.json``), the trial table, the front and its figure."""
    save_params(folder / PARAMS_FILE, tuning.chosen, {"run_name": provenance["run_name"], **tuning.summary()})
    write_parquet(tuning.trials, folder / "tuning.parquet", "tuning")
    write_parquet(tuning.front, folder / "front.parquet", "front")
    (folder / "front.svg").write_text(pareto_front(tuning), encoding="utf-8")


def policy_verdict(
    config: AuditConfig, metrics: pd.DataFrame, previous_metrics: Path | None = None
) -> GateVerdict | None:
    """The verdict of the config's policy on ``metrics`` (and against a previous run's metrics.parquet when
    given); None without a policy."""
    if config.policy is None:
        return None
    previous = None if previous_metrics is None else read_metrics(previous_metrics)
    return check_gate(config.policy, metrics, previous)


def write_run_folder(
    config: AuditConfig,
    result: AuditResult,
    defenses: list[Defense],
    tuning: TuningResult | None = None,
    previous_metrics: Path | None = None,
) -> Path:
    """Write every artifact of the run to ``output_dir/run_name`` atomically and return that folder; with a
    policy in the config, its verdict goes on the report's summary page and into the manifest."""
    salt = record_salt(config, result.provenance["fingerprints"])
    metrics = result.metrics_table()
    verdict = policy_verdict(config, metrics, previous_metrics)
    with staged_run_folder(config.output_dir, config.run_name) as folder:
        write_parquet(metrics, folder / "metrics.parquet", "metrics")
        write_parquet(result.scores_table(salt), folder / "scores.parquet", "scores")
        write_parquet(result.averaging_table(), folder / "averaging.parquet", "averaging")
        write_parquet(result.roc_table(), folder / "roc.parquet", "roc")
        if tuning is not None:
            write_tuning_files(folder, tuning, result.provenance)
        write_report(build_context(result, defenses, salt, tuning, verdict), folder)
        verdict_record = {} if verdict is None else {"verdict": verdict.summary()}
        write_manifest(folder, {**result.provenance, **verdict_record})
    return config.output_dir / config.run_name


def tuning_run_name(config: AuditConfig) -> str:
    """The folder ``dynaudit tune`` writes: ``<run_name>-tune``."""
    return f"{config.run_name}-tune"


def write_tuning_folder(config: AuditConfig, tuning: TuningResult, provenance: dict[str, Any]) -> Path:
    """Write a tuning run (parameters, trials, front, manifest) to ``output_dir/<run_name>-tune``."""
    name = tuning_run_name(config)
    with staged_run_folder(config.output_dir, name) as folder:
        write_tuning_files(folder, tuning, provenance)
        write_manifest(folder, {**provenance, "tuning": tuning.summary()})
    return config.output_dir / name

"""The audit's steps as plain functions on plain data; flows/audit.py composes them as Prefect tasks."""

import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from audit_core.artifacts import staged_run_folder, write_manifest, write_parquet
from audit_core.config import AuditConfig, DynaNoiseConfig
from audit_core.data import AuditData, Split, load_demo_data
from audit_core.defenses import DEFENSES, Defense, DynaNoise, Undefended
from audit_core.evaluation import ConditionEvaluation
from audit_core.report.context import build_context
from audit_core.report.render import write_report
from audit_core.results import AuditResult
from audit_core.seeding import derive_rng, derive_seed
from audit_core.signals import shadow_split
from audit_core.targets import TorchTarget
from audit_core.training import train_classifier

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
)


def load_audit_data(config: AuditConfig) -> AuditData:
    """The audit data named by the config."""
    d = config.data
    return load_demo_data(
        d.dataset,
        n_members=d.n_members,
        n_non_members=d.n_non_members,
        n_population=d.n_population,
        split_seed=d.split_seed,
    )


def train_target(config: AuditConfig, data: AuditData) -> TorchTarget:
    """Train the target on the member set (the demo's target, trained by dynaudit itself)."""
    seed = derive_seed(config.seed, "target")
    model = train_classifier(
        data.members.features, data.members.labels, data.n_classes, config.recipe, seed=seed
    )
    return TorchTarget(model)


def split_shadow_data(config: AuditConfig, data: AuditData) -> tuple[Split, Split]:
    """The shadow model's training (in) and held-out (out) sets, sized like the members and non-members."""
    rng = derive_rng(config.seed, "shadow-split")
    return shadow_split(data.population, len(data.members), len(data.non_members), rng)


def train_shadow(config: AuditConfig, data: AuditData, shadow_in: Split) -> TorchTarget:
    """A shadow model trained like the target, on population data only."""
    seed = derive_seed(config.seed, "shadow", "0")
    model = train_classifier(shadow_in.features, shadow_in.labels, data.n_classes, config.recipe, seed=seed)
    return TorchTarget(model)


def build_defense(defense: DynaNoiseConfig) -> Defense:
    """The Defense object for one configured defense."""
    return DEFENSES[defense.name](**defense.model_dump(exclude={"name"}))


def conditions(config: AuditConfig) -> list[Defense]:
    """The undefended baseline followed by each configured defense."""
    return [Undefended(), *(build_defense(d) for d in config.defenses)]


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the numbers."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def assemble_result(
    config: AuditConfig,
    data: AuditData,
    evaluations: list[ConditionEvaluation],
    fingerprints: dict[str, str],
    started_at: datetime,
) -> AuditResult:
    """Bundle the evaluations with the audit points' ids and the run's provenance."""
    provenance: dict[str, Any] = {
        "run_name": config.run_name,
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "seed": config.seed,
        "config": config.model_dump(mode="json", exclude={"id_salt"}),
        "data": {
            "name": data.name,
            "n_classes": data.n_classes,
            "sizes": {part: len(split) for part, split in data.splits().items()},
        },
        "fingerprints": fingerprints,
        "versions": package_versions(),
    }
    return AuditResult(
        run_name=config.run_name,
        evaluations=evaluations,
        record_ids=np.concatenate([data.members.ids, data.non_members.ids]),
        labels=np.concatenate([data.members.labels, data.non_members.labels]),
        is_member=np.r_[np.ones(len(data.members), bool), np.zeros(len(data.non_members), bool)],
        provenance=provenance,
    )


def write_run_folder(config: AuditConfig, result: AuditResult, defenses: list[Defense]) -> Path:
    """Write every artifact of the run to ``output_dir/run_name`` atomically and return that folder."""
    salt = config.id_salt or result.provenance["fingerprints"]["data"]
    with staged_run_folder(config.output_dir, config.run_name) as folder:
        write_parquet(result.metrics_table(), folder / "metrics.parquet", "metrics")
        write_parquet(result.scores_table(salt), folder / "scores.parquet", "scores")
        dynanoise = [d for d in defenses if isinstance(d, DynaNoise)]
        write_report(build_context(result, dynanoise), folder)
        write_manifest(folder, result.provenance)
    return config.output_dir / config.run_name

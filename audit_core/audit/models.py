"""The target, shadow and reference models of an audit: trained here (through the model cache) or opened."""

from collections.abc import Callable
from typing import Any

import numpy as np

from audit_core.audit.shadow import ShadowLogits, read_shadow
from audit_core.audit.signals import (
    ReferenceLogits,
    Signals,
    shadow_signals,
    shadow_split,
)
from audit_core.config import AuditConfig
from audit_core.core.devices import resolve_device
from audit_core.core.seeding import derive_rng, derive_seed
from audit_core.data import AuditData, Split
from audit_core.targets import Target, TorchTarget, open_target
from audit_core.training import train_classifier
from audit_core.training.cache import ModelCache
from audit_core.training.references import GroupRunner, complementary_in_masks, train_here, train_models


def train_target(config: AuditConfig, data: AuditData) -> TorchTarget:
    """Train the target on the member set (the demo's target, trained by dynaudit itself)."""
    seed = derive_seed(config.seed, "target")
    device = resolve_device(config.device)
    model = train_classifier(
        data.members.features, data.members.labels, data.n_classes, config.recipe, seed=seed, device=device
    )
    return TorchTarget(model, source="The trained target").to(device)


def build_target(config: AuditConfig, data: AuditData) -> Target:
    """The audited model: trained here for ``target.kind: trained``, else opened from the user's files; a
    torch model answers on ``config.device``."""
    if config.target.kind == "trained":
        return train_target(config, data)
    target = open_target(config.target)
    return target.to(resolve_device(config.device)) if isinstance(target, TorchTarget) else target


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
    in_mask = np.ones((config.shadow_models, len(shadow_in)), dtype=bool)
    return _train_with_recipe(config, data, shadow_in, in_mask, "shadow", fingerprints, cache)


def _train_with_recipe(
    config: AuditConfig,
    data: AuditData,
    records: Split,
    in_mask: np.ndarray,
    role: str,
    fingerprints: dict[str, str],
    cache: ModelCache,
    **options: Any,
) -> list[TorchTarget]:
    """One model per row of ``in_mask``, trained with the config's recipe and trainer through ``cache``."""
    return train_models(
        records,
        in_mask,
        role=role,
        n_classes=data.n_classes,
        recipe=config.recipe,
        seed=config.seed,
        fingerprints=fingerprints,
        cache=cache,
        trainer=config.trainer,
        device=resolve_device(config.device),
        **options,
    )


def _trained_shadow(
    config: AuditConfig,
    data: AuditData,
    fingerprints: dict[str, str],
    cache: ModelCache,
    shadow_sets: tuple[Split, Split] | None,
) -> ShadowLogits:
    shadow_in, shadow_out = shadow_sets or split_shadow_data(config, data)
    shadows = train_shadows(config, data, shadow_in, fingerprints, cache)
    return ShadowLogits(
        *shadow_signals(shadows, shadow_in, shadow_out, data.n_classes), models=tuple(shadows)
    )


# shadow.kind -> the shadow outputs it gives (None: the attacker has no shadow model)
SHADOWS: dict[str, Callable[..., ShadowLogits | None]] = {
    "trained": _trained_shadow,
    "predictions": lambda config, data, fingerprints, cache, shadow_sets: read_shadow(config.shadow, data),
    "none": lambda config, data, fingerprints, cache, shadow_sets: None,
}


def shadow_outputs(
    config: AuditConfig,
    data: AuditData,
    fingerprints: dict[str, str],
    shadow_sets: tuple[Split, Split] | None = None,
) -> tuple[ShadowLogits | None, dict[str, int]]:
    """The shadow logits ``config.shadow`` describes (trained or reused from the cache, read, or none) and the
    model cache's counts; ``shadow_sets`` are the shadow models' (in, out) records, by default drawn by
    :func:`split_shadow_data`."""
    cache = model_cache(config)
    shadow = SHADOWS[config.shadow.kind](config, data, fingerprints, cache, shadow_sets)
    return shadow, cache.counts()


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
    return signals.with_models(pair, references, () if shadow is None else shadow.models), fingerprints


def train_references(
    config: AuditConfig,
    data: AuditData,
    fingerprints: dict[str, str],
    *,
    on_model_done: Callable[[int, int], None] | None = None,
    run_groups: GroupRunner = train_here,
) -> tuple[list[TorchTarget], np.ndarray, dict[str, int]]:
    """Reference models on complementary random halves of the audit points, their IN/OUT masks and the model
    cache's counts; ``run_groups`` trains them (:func:`audit_core.training.references.train_models`)."""
    points = data.audit_points()
    in_mask = complementary_in_masks(
        len(points), config.reference_models, derive_rng(config.seed, "references")
    )
    cache = model_cache(config)
    models = _train_with_recipe(
        config,
        data,
        points,
        in_mask,
        "reference",
        fingerprints,
        cache,
        run_groups=run_groups,
        on_model_done=on_model_done,
    )
    return models, in_mask, cache.counts()

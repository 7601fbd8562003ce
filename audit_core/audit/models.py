"""The target, shadow and reference models of an audit: trained here (through the model cache) or opened."""

from collections.abc import Callable
from typing import Any

import numpy as np

from audit_core.audit.reference_table import read_reference_predictions
from audit_core.audit.shadow import ShadowLogits, read_shadow
from audit_core.audit.signals import (
    ReferenceLogits,
    Signals,
    shadow_signals,
    shadow_split,
)
from audit_core.config import AuditConfig, OutputKind
from audit_core.core.devices import resolve_device
from audit_core.core.errors import DataError
from audit_core.core.seeding import derive_rng, derive_seed
from audit_core.data import AuditData, Split
from audit_core.targets import Target, TorchTarget, open_target
from audit_core.targets.sklearn import SklearnTarget, clone_trusted_types, fitted_columns, open_sklearn
from audit_core.training import train_classifier
from audit_core.training.cache import ModelCache
from audit_core.training.kinds import (
    ArchitectureModels,
    CloneModels,
    FunctionModels,
    ModelKind,
    RecipeModels,
    clone_as_trained,
)
from audit_core.training.references import GroupRunner, complementary_in_masks, model_keys, train_models


def train_target(config: AuditConfig, data: AuditData) -> TorchTarget:
    """Train the target on the member set (the demo's target, trained by dynaudit itself), or load the one an
    earlier run trained alike from the model cache (keyed as the shadow and reference models are)."""
    seed = derive_seed(config.seed, "target")
    device = resolve_device(config.device)
    kind = _recipe(config, data, None)
    training = data.members
    in_mask = np.ones((1, len(training)), dtype=bool)  # one model, trained on every member
    key = model_keys(kind, training, in_mask, role="target", seeds=[seed], data=data.fingerprint())[0]
    cache = model_cache(config)
    model = cache.load(key, kind.blank)
    if model is None:
        model = train_classifier(
            training.features, training.labels, data.n_classes, config.recipe, seed=seed, device=device
        )
        cache.store(key, model)
    return TorchTarget(model, source="The trained target").to(device)


def with_model_names(config: AuditConfig) -> tuple[AuditConfig, SklearnTarget | None]:
    """``config`` with what a scikit-learn target names and the config leaves out: ``data.classes`` from its
    ``classes_`` where they are names or integers other than the indices ``0..k-1`` (``'benign'``, ``1..k``,
    ``-1, 1``), since the model knows the order of its outputs and the labels are then read as its class
    names; and a table's ``data.features`` from the columns it was fitted on (:func:`fitted_columns`), in its
    order, other columns of the table left out. Any other config as it is. With it, the scikit-learn target
    it opened (None for another kind): a caller that holds it while the audit runs loads the model file
    once."""
    if config.target.kind != "sklearn":
        return config, None
    target, data = open_sklearn(config.target), config.data
    columns = fitted_columns(target.model)
    if data.kind == "table" and data.features is None and columns is not None:
        data = data.with_model_columns([str(name) for name in columns], target.source)
    if getattr(data, "classes", True) is None:
        classes = target.classes
        names = [c.item() if isinstance(c, np.generic) else c for c in classes]
        if (
            not np.array_equal(classes, np.arange(len(classes)))
            and all(isinstance(name, str | int) for name in names)
            and data.n_classes in (None, len(names))
        ):
            data = data.with_model_classes(names, target.source)
    return (config if data is config.data else config.model_copy(update={"data": data})), target


def open_audited_target(config: AuditConfig, data: AuditData) -> Target:
    """The user's model (any file-based ``target.kind``); a scikit-learn model's classes must be the
    data's (class indices, or the names in ``data.classes``), and so must the columns it was fitted on."""
    target = open_target(config.target)
    if isinstance(target, SklearnTarget):
        target.require_classes(getattr(config.data, "classes", None), data.n_classes)  # some kinds name them
        target.require_features(data.feature_names)
        target.categories = data.categories
    return target


def build_target(config: AuditConfig, data: AuditData) -> Target:
    """The audited model: trained here for ``target.kind: trained``, else opened from the user's files; a
    torch model answers on ``config.device``."""
    if config.target.kind == "trained":
        return train_target(config, data)
    target = open_audited_target(config, data)
    return target.to(resolve_device(config.device)) if isinstance(target, TorchTarget) else target


MIN_SHADOW_POPULATION = 20  # population records below which halves are too small to train and test a shadow


def split_shadow_data(config: AuditConfig, data: AuditData) -> tuple[Split, Split]:
    """The shadow models' training (in) and held-out (out) sets: random halves of the population."""
    n = len(data.population)
    if n < MIN_SHADOW_POPULATION:
        raise DataError(
            f"The population set has {n} rows, too few to train a shadow model on one half and hold out the "
            f"other; supply at least {MIN_SHADOW_POPULATION} population rows, or set shadow.kind: none."
        )
    return shadow_split(data.population, n // 2, n - n // 2, derive_rng(config.seed, "shadow-split"))


def model_cache(config: AuditConfig) -> ModelCache:
    """The cache of trained shadow and reference models named by the config."""
    return ModelCache(None if config.cache_dir is None else config.cache_dir / "models")


def _recipe(config: AuditConfig, data: AuditData, section: Any) -> ModelKind:
    return RecipeModels(
        config.recipe,
        data.n_classes,
        data.population.width,
        device=resolve_device(config.device),
        trainer=config.trainer,
    )


def _clone(config: AuditConfig, data: AuditData, section: Any) -> ModelKind:
    target = open_sklearn(config.target).model
    return CloneModels(  # workers get the parameters, never the target
        clone_as_trained(target),
        data.n_classes,
        clone_trusted_types(config.target, target),
        fitted_columns(target),
        data.categories,
    )


def target_output(config: AuditConfig) -> OutputKind:
    """What the target returns, logits unless its section says otherwise (a scikit-learn target: what its
    model scores with, :func:`scores_kind`): the models trained like it (its architecture, the user's
    training function) return the same."""
    if config.target.kind == "sklearn":
        return open_sklearn(config.target).output
    return getattr(config.target, "output", "logits")


def _architecture(config: AuditConfig, data: AuditData, section: Any) -> ModelKind:
    target = config.target
    recipe = config.recipe
    return ArchitectureModels(
        recipe,
        data.n_classes,
        data.population.width,
        device=resolve_device(config.device),
        architecture=target.architecture,
        kwargs=target.architecture_kwargs,
        output=target_output(config),
        input_dtype=target.input_dtype,
    )


def function_models(config: AuditConfig, n_classes: int, section: Any) -> FunctionModels:
    """The user's training function of ``section`` (the shadow's or the references')."""
    field = "references.function" if section is config.references else "shadow.function"
    return FunctionModels(section.function, n_classes, field, output=section.output or target_output(config))


def _function(config: AuditConfig, data: AuditData, section: Any) -> ModelKind:
    return function_models(config, data.n_classes, section)


#: resolved model kind -> the ModelKind it trains (``trained``: the shadow's name for the recipe)
MODEL_KINDS: dict[str, Callable[[AuditConfig, AuditData, Any], ModelKind]] = {
    "recipe": _recipe,
    "trained": _recipe,
    "clone": _clone,
    "architecture": _architecture,
    "function": _function,
}


def reference_model_kind(config: AuditConfig, data: AuditData) -> ModelKind:
    """The kind of the reference models the config describes (not for ``references.kind: predictions``)."""
    return MODEL_KINDS[config.reference_kind](config, data, config.references)


def reference_description(config: AuditConfig, data: AuditData) -> str:
    """What the reference models are, e.g. ``16 clones of RandomForestClassifier(n_estimators=50)``."""
    if config.reference_kind == "predictions":
        table = config.references.path.name
        return f"{config.reference_models} reference models supplied as predictions ({table})"
    return f"{config.reference_models} {reference_model_kind(config, data).describe()}"


def train_shadows(
    config: AuditConfig, data: AuditData, shadow_in: Split, fingerprints: dict[str, str], cache: ModelCache
) -> list[Target]:
    """Shadow models of ``shadow.kind`` trained on the shadow set (population data only), one seed each."""
    in_mask = np.ones((config.shadow_models, len(shadow_in)), dtype=bool)
    models = MODEL_KINDS[config.shadow_kind](config, data, config.shadow)
    return train_models(
        shadow_in,
        in_mask,
        role="shadow",
        models=models,
        seed=config.seed,
        data_fingerprint=fingerprints["data"],
        cache=cache,
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


# resolved shadow kind -> the shadow outputs it gives (None: the attacker has no shadow model)
SHADOWS: dict[str, Callable[..., ShadowLogits | None]] = {
    **dict.fromkeys(MODEL_KINDS, _trained_shadow),
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
    shadow = SHADOWS[config.shadow_kind](config, data, fingerprints, cache, shadow_sets)
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
    run_groups: GroupRunner | None = None,
) -> tuple[list[Target], np.ndarray, dict[str, int]]:
    """Reference models of ``references.kind`` on complementary random halves of the audit points (or read
    from the user's table), their IN/OUT masks and the model cache's counts; ``run_groups`` trains them
    (:func:`audit_core.training.references.train_models`)."""
    cache = model_cache(config)
    if config.reference_models and config.reference_kind == "predictions":
        targets, in_mask = read_reference_predictions(config.references, data, config.reference_models)
        return targets, in_mask, cache.counts()
    points = data.audit_points()
    in_mask = complementary_in_masks(
        len(points), config.reference_models, derive_rng(config.seed, "references")
    )
    if not config.reference_models:
        return [], in_mask, cache.counts()
    models = train_models(
        points,
        in_mask,
        role="reference",
        models=reference_model_kind(config, data),
        seed=config.seed,
        data_fingerprint=fingerprints["data"],
        cache=cache,
        run_groups=run_groups,
        on_model_done=on_model_done,
    )
    return models, in_mask, cache.counts()

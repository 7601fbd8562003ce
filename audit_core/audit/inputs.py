"""The input check: every input probed before any expensive work, one sentence on the first problem."""

import warnings
from dataclasses import dataclass

from audit_core.attacks import ATTACKS
from audit_core.audit.conditions import random_inputs_possible
from audit_core.audit.evaluation import REQUIREMENTS
from audit_core.audit.models import (
    MODEL_KINDS,
    function_models,
    open_audited_target,
    split_shadow_data,
    with_model_names,
)
from audit_core.audit.reference_table import read_reference_predictions
from audit_core.audit.shadow import read_shadow, require_numeric_features
from audit_core.audit.signals import (
    moves_records,
    target_signals,
)
from audit_core.audit.split import SPLIT_PARTS, tuning_size
from audit_core.config import AuditConfig
from audit_core.core.errors import AuditInputError, TargetError
from audit_core.core.records import has_number_fields, movable, readable
from audit_core.data import AuditData, DataProbe, load_data, probe_data
from audit_core.defenses import DEFENSES

PROBE_ROWS = 16  # records per audit part that check_inputs decodes and sends through the target


TORCH_KINDS = ("trained", "recipe", "architecture")  # model kinds dynaudit trains as torch networks


def _require_trainable(config: AuditConfig, data: AuditData) -> None:
    """Raise unless ``data`` have the numeric features of the models dynaudit must train on them."""
    for field, kind in (
        ("target.kind", config.target.kind),
        ("shadow.kind", config.shadow_kind),
        ("references.kind", config.reference_kind if config.reference_models else None),
    ):
        if kind in TORCH_KINDS:
            require_numeric_features(data, field, kind)


def load_audit_data(config: AuditConfig) -> AuditData:
    """The audit data named by the config, checked to suit the models dynaudit must train on it."""
    data = load_data(config.data)
    _require_trainable(config, data)
    return data


def probe_audit_data(config: AuditConfig, rows: int = PROBE_ROWS) -> DataProbe:
    """A probe of the audit data (``rows`` records of each part decoded), its features checked to suit the
    models dynaudit must train on them: every record's where the probe read them all (tables, npz), else the
    decoded ones'."""
    probe = probe_data(config.data, rows)
    _require_trainable(config, probe.records if probe.records.members.width else probe.sample)
    return probe


def _require_clones_fit(config: AuditConfig, data: AuditData, sample: AuditData) -> None:
    """Fit one clone of the target on the probed audit points and, where that fails, on every member (a
    clone may need more records than the probe has, e.g. cross-validated calibration in more folds than the
    probe has records of a class), so that a target whose clones cannot fit, such as a boosting model
    stopped early by a library dynaudit does not clone as trained, is refused here and not when the
    reference models train. The fit's warnings (a solver not converging on 32 records) are not the audit's."""
    models = MODEL_KINDS["clone"](config, data, config.references)
    points = sample.audit_points()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            models.train([(points.features, points.labels)], [0])
        except TargetError:
            if not data.members.width:  # the members are not decoded: the audit will tell
                return
            models.train([(data.members.features, data.members.labels)], [0])


@dataclass(frozen=True)
class CheckedInputs:
    """What the input check found: the records of each audit part and the classes, with the names the
    labels are read as and where those came from (``data.classes``, or the model's ``classes_``), and where a
    table's feature columns came from where the model named them."""

    sizes: dict[str, int]
    n_classes: int
    class_names: list[str | int] | None = None
    names_from: str | None = None
    features_from: str | None = None


def check_inputs(config: AuditConfig) -> CheckedInputs:
    """Check every input before any expensive work: the environment variables that hold secrets, probe the
    data, open the target and query it on the probed records of each part, read shadow and reference
    predictions, train the user's training function once on the probed audit points, fit a clone of a
    scikit-learn target (:func:`_require_clones_fit`), size the shadow split, and make sure some requested
    attack has the inputs it needs.

    Raises :class:`AuditInputError` with one sentence on the first problem; returns what it found. The CLI
    runs it before starting Prefect, so bad input never reaches a flow run or the output folder. The few
    checks that need every record decoded (see :func:`audit_core.data.probe_data`) run when the flow loads
    the data.
    """
    config.check_environment_secrets()
    config, _opened = with_model_names(config)  # held: the model file is loaded once
    probe = probe_audit_data(config)
    data = probe.records  # every record's label and id
    target = None if config.target.kind == "trained" else open_audited_target(config, data)
    if target is not None:
        free = config.target.kind == "predictions"  # a table lookup by id: check every record, not a sample
        target_signals(target, data if free else probe.sample)
    if config.shadow_kind in MODEL_KINDS:
        split_shadow_data(config, data)
    elif config.shadow_kind == "predictions":
        read_shadow(config.shadow, data)
    for section in (config.shadow, config.references):
        if section.kind == "function":  # imported, trained once on the probed audit points and queried
            sample = probe.sample.audit_points()
            models = function_models(config, data.n_classes, section)
            (model,) = models.train([(sample.features, sample.labels)], [0])
            models.queryable(model).query(sample)
    if "clone" in (config.shadow_kind, config.reference_kind if config.reference_models else None):
        _require_clones_fit(config, data, probe.sample)
    if config.reference_models and config.reference_kind == "predictions":
        read_reference_predictions(config.references, data, config.reference_models)
    no_population = target is not None and not target.covers(data.population)
    features = data.members.features
    queryable = movable(features) if target is None else moves_records(target, features)  # None: trained
    lacking = {
        "shadow": config.shadow.kind == "none",
        "references": config.reference_models == 0,
        "target_population": no_population,
        "population_features": no_population or not readable(data.population.features),
        "shadow_queries": config.shadow_kind not in MODEL_KINDS or not queryable,
        "number_fields": not has_number_fields(features),
    }
    needs = {name: sorted(n for n in ATTACKS[name].requires if lacking[n]) for name in config.attacks}
    if all(needs.values()):
        details = ", ".join(
            f"{name} needs {' and '.join(REQUIREMENTS[n] for n in missing)}"
            for name, missing in needs.items()
        )
        raise AuditInputError(
            f"No requested attack can run ({details}); give a shadow (shadow.kind) or reference models "
            "(reference_models), or request an attack that needs neither, such as label_only."
        )
    if config.tune is not None:
        for part in SPLIT_PARTS:
            tuning_size(part, probe.sizes[part], config.tune.tuning_fraction)
    defender_lacks = {
        "shadow": config.shadow.kind == "none",
        "random_inputs": not random_inputs_possible(config, probe.sample),
    }
    for index, defense in enumerate(config.defenses):
        missing = sorted(n for n in DEFENSES[defense.name].requires if defender_lacks[n])
        if missing:
            needs = " and ".join(DEFENDER_INPUTS[n] for n in missing)
            raise AuditInputError(
                f"defenses.{index} ({defense.name}) needs {needs}, which this audit cannot provide; remove "
                "it or change target.kind / shadow.kind."
            )
    names = getattr(config.data, "classes", None)
    return CheckedInputs(
        probe.sizes,
        data.n_classes,
        names,
        None if names is None else config.data.classes_named_by,
        getattr(config.data, "features_named_by", None),
    )


#: What a fitted defense may need from the defender's side, in words (keys of ``Defense.requires``).
DEFENDER_INPUTS = {
    "shadow": "a shadow model's outputs on its in/out records (any shadow.kind but none)",
    "random_inputs": "the target's answers to random inputs (a model of numbers or of a table's rows, not a "
    "predictions table)",
}

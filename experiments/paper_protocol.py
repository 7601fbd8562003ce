"""The DynaNoise paper's evaluation protocol on data dynaudit loads, and the same conditions under an adaptive
attacker (docs/paper-reproduction.md; the paper's protocol is in the v2 artifact, notes sections 1-4).

- **Split.** A pool of records splits 70/30 into target and shadow data; the target data 80/20 into members
  (the target's training set) and non-members; the shadow data 50/50 into the shadow models' in and out sets.
  Accuracy is measured on a separate test set. Attacks are evaluated on a balanced set: the members
  subsampled to as many as there are non-members.
- **Models.** The target, one shadow model and three LiRA shadow models are trained with one recipe; the four
  shadow models all train on the shadow in set. Reference models for the attacks beyond the paper (LiRA of
  Carlini et al., RMIA) train on complementary halves of the audit points.
- **Conditions.** No defense, DynaNoise at the paper's parameters, DynaNoise tuned by dynaudit's tuner under
  an accuracy budget, and every inference-time baseline.
- **Paper table.** The six attacks calibrated on *undefended* shadow outputs or with the paper's fixed
  thresholds (the non-adaptive protocol); ASR is balanced accuracy; MIDPUT over the six.
- **Adaptive table.** The same attacks plus LiRA, RMIA, QMIA and the label-only query attacks (augmentation,
  boundary), calibrated on *defended* outputs, as AUC and TPR at 1% FPR; and the strongest AUC when the
  attacker also averages repeated queries.

- **Canaries** (``canaries > 0``; Aerni, Zhang & Tramer, CCS 2024). ``canaries`` members and as many
  non-members, drawn at random, get a wrong label drawn at random (mislabelled records, the most exposed
  kind); the target and the reference models train on the mislabelled members. The canary table gives, per
  defense, the strongest adaptive attack's AUC and TPR at 1% FPR on the canaries alone (canary members
  against canary non-members) beside the same on every audited record (the average case).

Every condition is reported on the tuner's evaluation split, disjoint from the points the tuned setting was
chosen on (so about half of the canaries are evaluated).
"""

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit_core.attacks import ATTACKS
from audit_core.audit.analysis import ConditionEvaluation, worst_case
from audit_core.audit.conditions import conditions, evaluate
from audit_core.audit.inputs import load_audit_data
from audit_core.audit.run import gather_inputs
from audit_core.audit.signals import LogitSet, Signals, shadow_split
from audit_core.audit.split import split_for_tuning
from audit_core.config import (
    DEMO_DEFENSES,
    PAPER_SETTING,
    AuditConfig,
    Knowledge,
    TrainingRecipe,
    parse_config,
)
from audit_core.core.seeding import derive_rng
from audit_core.data import AuditData, Split
from audit_core.data.demo import DEMO_DATASETS
from audit_core.data.imagenet import pool_folders
from audit_core.data.images import class_folders, image_files
from audit_core.defenses import Defense
from audit_core.stats.metrics import roc_auc, tpr_at_fpr
from audit_core.stats.midput import midput
from audit_core.stats.names import HEADLINE_FPR, Metric
from audit_core.tuning.step import tune_dynanoise

BUILT_IN = tuple(DEMO_DATASETS)
IMAGE_SETS = ("cifar10", "imagenet10")
DATASETS = (*BUILT_IN, *IMAGE_SETS)

TARGET_SHARE = 0.7  # of the pool; the rest is the shadow data
MEMBER_SHARE = 0.8  # of the target data; the rest are the non-members
TEST_SHARE = 1 / 6  # built-in sets: CIFAR-10's 10,000 test images of 60,000
IMAGENET_TEST_SHARE = 0.2  # the artifact's 80/20 train/test split of the ImageNet-10 folder

#: The paper's six attacks, its column name -> dynaudit's attack
PAPER_ATTACKS = {
    "confidence": "paper_confidence",
    "loss": "paper_loss",
    "shadow": "shadow",
    "lira": "paper_lira",
    "entropy": "entropy",
    "modified_entropy": "modified_entropy",
}
BEYOND_PAPER = ("lira_online", "rmia", "qmia", "augmentation", "boundary")
ADAPTIVE_ATTACKS = {**PAPER_ATTACKS, **{name: name for name in BEYOND_PAPER}}
SHADOW_MODELS = 4  # the paper's shadow model (index 0) and its three LiRA shadow models (1-3)
#: Which shadow models calibrate which attacks (the reference-model attacks use no shadow model)
CALIBRATION = (
    ((0,), tuple(a for a in ADAPTIVE_ATTACKS.values() if a != "paper_lira")),
    ((1, 2, 3), ("paper_lira",)),
)

#: The paper's optimiser (SGD, lr 0.01, momentum 0.9, batch 64); epochs until the MLP memorises its members
MLP_RECIPE = TrainingRecipe(
    hidden_sizes=(256,), epochs=300, batch_size=64, optimizer="sgd", learning_rate=0.01, momentum=0.9
)
CNN_RECIPE = MLP_RECIPE.model_copy(
    update={"architecture": "audit_core.training.architectures:small_cnn", "epochs": 30}
)
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
CANARY = "canary:"  # the prefix of a planted canary's record id


@dataclass(frozen=True)
class ProtocolSettings:
    """One run: the data set, its scale for a CPU, and the attacker's and the tuner's budgets."""

    dataset: str
    root: Path | None = None  # the local folder of cifar10 / imagenet10
    epochs: int | None = None  # default: the recipe's (300 for the MLP, 30 for the CNN)
    pool_size: int = 10_000  # image sets: at most this many training-pool records
    test_size: int = 2_000  # image sets: at most this many test records
    image_size: int = 32  # imagenet10: images resized and centre-cropped to this side
    reference_models: int = 8
    max_queries: int = 64  # the averaging attacker's largest number of repeated queries
    tune_trials: int = 50
    budget: float = 0.01  # the tuner's largest test-accuracy drop (one point)
    objective: str = "midput"
    tune_knowledge: str = "adaptive"
    seed: int = 0
    cache_dir: Path | None = None
    canaries: int = 0  # mislabelled records planted among the members (and as many among the non-members)


@dataclass(frozen=True)
class PaperSplit:
    """Sizes of the paper's parts: members (the target's training set), non-members, the shadow models' in and
    out sets, and the test set."""

    members: int
    non_members: int
    shadow_in: int
    shadow_out: int
    test: int

    @classmethod
    def of_pool(cls, pool: int, test: int) -> "PaperSplit":
        """The 70/30, 80/20, 50/50 scheme applied to ``pool`` records.

        >>> PaperSplit.of_pool(50_000, 10_000)  # CIFAR-10 in the paper
        PaperSplit(members=28000, non_members=7000, shadow_in=7500, shadow_out=7500, test=10000)
        """
        target = round(TARGET_SHARE * pool)
        members = round(MEMBER_SHARE * target)
        shadow = pool - target
        return cls(members, target - members, shadow // 2, shadow - shadow // 2, test)

    @property
    def population(self) -> int:
        """The shadow data: in and out sets together."""
        return self.shadow_in + self.shadow_out


@dataclass(frozen=True)
class ProtocolResult:
    """Both tables, the split, the sizes the tables were measured on, and how the tuned setting was chosen."""

    paper: pd.DataFrame
    adaptive: pd.DataFrame
    split: PaperSplit
    evaluated: dict[str, int]
    tuning: dict[str, Any]
    canaries: pd.DataFrame | None = None


def paper_split(settings: ProtocolSettings) -> PaperSplit:
    """The split sizes for ``settings.dataset``: a built-in set in full (a sixth held out as the test set),
    or the image sets capped at ``pool_size`` and ``test_size``."""
    if settings.dataset in BUILT_IN:
        n = len(DEMO_DATASETS[settings.dataset]()[1])
        test = round(TEST_SHARE * n)
        return PaperSplit.of_pool(n - test, test)
    if settings.dataset == "cifar10":
        return PaperSplit.of_pool(settings.pool_size, settings.test_size)
    counts = {pool: len(_imagenet_files(folder)) for pool, folder in pool_folders(settings.root).items()}
    if "all" in counts:
        test = round(IMAGENET_TEST_SHARE * counts["all"])
        counts = {"train": counts["all"] - test, "val": test}
    return PaperSplit.of_pool(
        min(settings.pool_size, counts["train"]), min(settings.test_size, counts["val"])
    )


def _imagenet_files(folder: Path) -> list[tuple[str, int]]:
    return image_files(folder, class_folders(folder), "data.root")


def data_config(settings: ProtocolSettings, split: PaperSplit) -> dict[str, Any]:
    """The ``data`` section that loads the paper's parts: members, non-members, the shadow data (as the
    population) and the test set, each drawn at random from the data set's pools."""
    if settings.dataset in BUILT_IN:
        return {
            "kind": "demo",
            "dataset": settings.dataset,
            "n_members": split.members,
            "n_non_members": split.non_members,
            "n_population": split.population,
            "split_seed": settings.seed,
        }
    if settings.dataset == "cifar10":
        train, test, extra = "train", "test", {}
    else:
        train, test = ("train", "val") if "train" in pool_folders(settings.root) else ("all", "all")
        side = settings.image_size
        transform = {"resize": round(side * 8 / 7), "center_crop": side}  # ImageNet's 256 -> 224, scaled
        extra = {"transform": {**transform, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}}
    counts = {"members": split.members, "non_members": split.non_members, "population": split.population}
    draws = {part: {"pool": train, "count": count} for part, count in counts.items()}
    kind = "cifar10" if settings.dataset == "cifar10" else "imagenet"
    return {
        "kind": kind,
        "root": str(settings.root),
        **draws,
        "test": {"pool": test, "count": split.test},
        "split_seed": settings.seed,
        **extra,
    }


def audit_config(settings: ProtocolSettings, split: PaperSplit) -> AuditConfig:
    """The audit settings of the protocol: recipe, conditions, attacks, models, tuner."""
    recipe = CNN_RECIPE if settings.dataset in IMAGE_SETS else MLP_RECIPE
    if settings.epochs is not None:
        recipe = recipe.model_copy(update={"epochs": settings.epochs})
    baselines = [d for d in DEMO_DEFENSES if d["name"] != "dynanoise"]
    raw = {
        "run_name": f"paper-{settings.dataset}",
        "seed": settings.seed,
        "data": data_config(settings, split),
        "recipe": recipe.model_dump(),
        "defenses": [{"name": "dynanoise", **PAPER_SETTING}, *baselines],
        "tune": {
            "budget": settings.budget,
            "objective": settings.objective,
            "knowledge": settings.tune_knowledge,
            "n_trials": settings.tune_trials,
            "baselines": False,  # the baselines are rows of the tables already
        },
        "attacks": list(ADAPTIVE_ATTACKS.values()),
        "knowledge": list(Knowledge),
        "max_queries": settings.max_queries,
        "shadow_models": SHADOW_MODELS,
        "reference_models": settings.reference_models,
        "cache_dir": None if settings.cache_dir is None else str(settings.cache_dir),
    }
    return parse_config(raw, source="paper protocol")


def is_canary(ids: np.ndarray) -> np.ndarray:
    """Which record ids are planted canaries."""
    return np.char.startswith(ids.astype(str), CANARY)


def plant_canaries(data: AuditData, n: int, rng: np.random.Generator) -> AuditData:
    """``data`` with ``n`` members and ``n`` non-members, drawn at random, relabelled to a random other class
    and their ids prefixed ``canary:``."""
    parts = {}
    for part in ("members", "non_members"):
        split = getattr(data, part)
        picked = rng.choice(len(split), size=n, replace=False)
        labels, ids = split.labels.copy(), split.ids.astype(object)
        labels[picked] = (labels[picked] + rng.integers(1, data.n_classes, size=n)) % data.n_classes
        ids[picked] = [CANARY + str(i) for i in ids[picked]]
        parts[part] = Split(split.features, labels, ids.astype(str))
    return replace(data, **parts)


def balanced(signals: Signals, rng: np.random.Generator) -> Signals:
    """The members subsampled at random to as many as there are non-members (the paper's evaluation set),
    keeping every canary member."""
    canary = is_canary(signals.members.ids)
    drawn = rng.choice(np.flatnonzero(~canary), size=len(signals.non_members) - canary.sum(), replace=False)
    return signals.select(members=np.sort(np.r_[np.flatnonzero(canary), drawn]))


def calibration_signals(signals: Signals, models: tuple[int, ...], attacks: tuple[str, ...]) -> Signals:
    """The signals with the outputs of only the given shadow models (pooled outputs stack them in order), and
    with the reference models' outputs only if one of ``attacks`` needs them."""

    def pick(pooled: LogitSet) -> LogitSet:
        size = len(pooled) // SHADOW_MODELS
        return pooled.subset(np.concatenate([np.arange(m * size, (m + 1) * size) for m in models]))

    shadow = (pick(signals.shadow_members), pick(signals.shadow_non_members))
    needed = any("references" in ATTACKS[a].requires for a in attacks)
    queried = () if signals.query_models is None else tuple(signals.query_models.shadows[m] for m in models)
    return signals.with_models(shadow, signals.references if needed else None, queried)


def evaluate_protocol(config: AuditConfig, signals: Signals, defense: Defense) -> ConditionEvaluation:
    """Every attack under every attacker knowledge, each calibrated on its own shadow models (the target's
    released answers are drawn from the same seed in every part, so all attacks see the same answers)."""
    parts = [
        evaluate(
            config.model_copy(update={"attacks": list(attacks)}),
            calibration_signals(signals, models, attacks),
            defense,
        )
        for models, attacks in CALIBRATION
    ]
    return replace(
        parts[0],
        outcomes=[o for part in parts for o in part.outcomes],
        averaging=[a for part in parts for a in part.averaging],
        skipped={k: v for part in parts for k, v in part.skipped.items()},
    )


def run_protocol(settings: ProtocolSettings) -> ProtocolResult:
    """Load and split the data, train every model, tune DynaNoise, evaluate every condition, tabulate."""
    split = paper_split(settings)
    config = audit_config(settings, split)
    data = load_audit_data(config)
    if settings.canaries:
        data = plant_canaries(data, settings.canaries, derive_rng(config.seed, "canaries"))
    shadow_sets = shadow_split(
        data.population, split.shadow_in, split.shadow_out, derive_rng(config.seed, "shadow-split")
    )
    inputs = gather_inputs(config, data=data, shadow_sets=shadow_sets)
    signals = balanced(inputs.signals, derive_rng(config.seed, "balanced-evaluation"))
    tuning_part, evaluation = split_for_tuning(config, signals)
    tuning = tune_dynanoise(config, tuning_part, evaluation, inputs.defender)
    undefended, paper, *baselines, tuned = conditions(config, inputs.defender, tuning.chosen)
    rows = {"no defense": undefended, "DynaNoise (paper)": paper, "DynaNoise (tuned)": tuned}
    rows |= {b.name: b for b in baselines}
    evaluations = {name: evaluate_protocol(config, evaluation, d) for name, d in rows.items()}
    evaluated = {part: len(getattr(evaluation, part)) for part in ("members", "non_members", "test")}
    canaries = None
    if settings.canaries:
        ids = np.concatenate([evaluation.members.ids, evaluation.non_members.ids])
        canaries = canary_table(evaluations, is_canary(ids), evaluation.is_member)
    return ProtocolResult(
        paper_table(evaluations), adaptive_table(evaluations), split, evaluated, tuning.summary(), canaries
    )


def _asr(evaluation: ConditionEvaluation) -> dict[str, float]:
    return {
        column: evaluation.outcome(attack, "naive").balanced_accuracy.value
        for column, attack in PAPER_ATTACKS.items()
    }


def paper_table(evaluations: dict[str, ConditionEvaluation]) -> pd.DataFrame:
    """The paper's layout: per defense (the first row is no defense), test accuracy, each of the six attacks'
    ASR (balanced accuracy, non-adaptive attacker) and MIDPUT over them."""
    baseline = next(iter(evaluations.values()))
    rows = []
    for name, evaluation in evaluations.items():
        score = midput(
            baseline.test_accuracy.value, evaluation.test_accuracy.value, _asr(baseline), _asr(evaluation)
        )
        rows.append(
            {
                "defense": name,
                "condition": evaluation.condition,
                "accuracy": evaluation.test_accuracy.value,
                **_asr(evaluation),
                "midput": score.value,
            }
        )
    return pd.DataFrame(rows)


def adaptive_table(evaluations: dict[str, ConditionEvaluation]) -> pd.DataFrame:
    """Per defense: test accuracy; per attack calibrated on defended outputs, AUC and TPR at 1% FPR; the
    strongest attack's AUC (with its 95% bootstrap interval) and TPR; and the strongest AUC when the attacker
    also averages ``averaging_queries`` answers per point (1 when the answer is a fixed function of the
    logits)."""
    rows = []
    for name, evaluation in evaluations.items():
        adaptive = {c: evaluation.outcome(a, "adaptive") for c, a in ADAPTIVE_ATTACKS.items()}
        averaging = [evaluation.outcome(a, "averaging") for a in ADAPTIVE_ATTACKS.values()]
        strongest = worst_case(adaptive.values())
        strongest_tpr = worst_case(adaptive.values(), Metric.TPR_AT_FPR_0_01)
        row: dict[str, Any] = {
            "defense": name,
            "condition": evaluation.condition,
            "accuracy": evaluation.test_accuracy.value,
        }
        for column, outcome in adaptive.items():
            row[f"{column}_auc"] = outcome.auc.value
            row[f"{column}_tpr_at_1pct_fpr"] = outcome.tpr_at(HEADLINE_FPR).tpr.value
        row |= {
            "strongest_attack": strongest.attack,
            "strongest_auc": strongest.auc.value,
            "strongest_auc_low": strongest.auc.ci_low,
            "strongest_auc_high": strongest.auc.ci_high,
            "strongest_tpr_at_1pct_fpr": strongest_tpr.tpr_at(HEADLINE_FPR).tpr.value,
            "averaging_queries": averaging[0].queries,
            "averaging_strongest_auc": worst_case(averaging).auc.value,
        }
        rows.append(row)
    return pd.DataFrame(rows)


def canary_table(
    evaluations: dict[str, ConditionEvaluation], canary: np.ndarray, is_member: np.ndarray
) -> pd.DataFrame:
    """Per defense, under the adaptive attacker: the strongest attack's AUC and TPR at 1% FPR on the canaries
    alone and on every audited record; the counts of canary members and non-members evaluated."""
    rows = []
    for name, evaluation in evaluations.items():
        row: dict[str, Any] = {"defense": name, "condition": evaluation.condition}
        outcomes = [evaluation.outcome(a, "adaptive") for a in ADAPTIVE_ATTACKS.values()]
        for part, rows_of in (("canary", canary), ("average", np.ones_like(canary))):
            auc = {o.attack: roc_auc(o.scores[rows_of], is_member[rows_of]).value for o in outcomes}
            tpr = {
                o.attack: tpr_at_fpr(o.scores[rows_of], is_member[rows_of], HEADLINE_FPR).tpr.value
                for o in outcomes
            }
            row |= {
                f"{part}_auc": max(auc.values()),
                f"{part}_auc_attack": max(auc, key=auc.get),
                f"{part}_tpr_at_1pct_fpr": max(tpr.values()),
                f"{part}_tpr_attack": max(tpr, key=tpr.get),
            }
        row |= {
            "canary_members": int((canary & is_member).sum()),
            "canary_non_members": int((canary & ~is_member).sum()),
        }
        rows.append(row)
    return pd.DataFrame(rows)

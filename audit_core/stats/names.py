"""The names of every metric dynaudit reports (a ``StrEnum``: each member equals the string in the tables)."""

from enum import StrEnum

#: The false-positive rates at which every attack's TPR is reported.
FPR_TARGETS = (0.001, 0.01, 0.1)
#: The FPR of the headline TPR (tables' "TPR at 1% FPR", the gate's max_tpr_at_1pct_fpr).
HEADLINE_FPR = 0.01


class Metric(StrEnum):
    """Metric names: the ``metric`` column of ``metrics.parquet``, the tuner's ``front.parquet`` columns."""

    # one attack on one condition under one attacker knowledge
    AUC = "auc"
    BALANCED_ACCURACY = "balanced_accuracy"
    BEST_ACCURACY = "best_accuracy"
    ADVANTAGE = "advantage"
    PRECISION = "precision"
    EPSILON_LOWER_BOUND = "epsilon_lower_bound"
    THRESHOLD = "threshold"
    TPR_AT_FPR_0_001 = "tpr_at_fpr_0.001"
    TPR_AT_FPR_0_01 = "tpr_at_fpr_0.01"
    TPR_AT_FPR_0_1 = "tpr_at_fpr_0.1"
    ACHIEVED_FPR_AT_0_001 = "achieved_fpr_at_0.001"
    ACHIEVED_FPR_AT_0_01 = "achieved_fpr_at_0.01"
    ACHIEVED_FPR_AT_0_1 = "achieved_fpr_at_0.1"
    SKIPPED = "skipped"
    QUERIES_TO_REGAIN = "queries_to_regain_90pct"
    MEMBERS = "members"  # audit points the metrics of one attack were computed on
    NON_MEMBERS = "non_members"
    # scores of at most two values: the points scored high (the larger value), what the AUC's bounds rest on
    MEMBERS_SCORED_HIGH = "members_scored_high"
    NON_MEMBERS_SCORED_HIGH = "non_members_scored_high"
    # one condition
    TEST_ACCURACY = "test_accuracy"
    ACCURACY_DROP = "accuracy_drop"
    ANSWERS_LOST = "answers_lost"  # test points answered right undefended and wrong defended
    ANSWERS_GAINED = "answers_gained"  # test points answered wrong undefended and right defended
    TEST_POINTS = "test_points"  # the test points the accuracy drop was measured on
    MIDPUT = "midput"
    PUT = "put"
    # the reference models' fidelity to the target (undefended condition; no attack)
    TARGET_TRAIN_ACCURACY = "target_train_accuracy"
    TARGET_HELD_OUT_ACCURACY = "target_held_out_accuracy"
    TARGET_GAP = "target_train_test_gap"
    REFERENCE_TRAIN_ACCURACY = "reference_train_accuracy"
    REFERENCE_HELD_OUT_ACCURACY = "reference_held_out_accuracy"
    REFERENCE_GAP = "reference_train_test_gap"
    # the tuner's per-candidate scores (front.parquet columns)
    ACCURACY = "accuracy"
    MEAN_ASR = "mean_asr"
    WORST_CASE_ADVANTAGE = "worst_case_advantage"
    TPR_AT_1PCT_FPR = "tpr_at_1pct_fpr"

    @classmethod
    def tpr_at_fpr(cls, target: float) -> "Metric":
        """The TPR at one of :data:`FPR_TARGETS`."""
        return cls(f"tpr_at_fpr_{target:g}")

    @classmethod
    def achieved_fpr_at(cls, target: float) -> "Metric":
        """The FPR achieved where the TPR at ``target`` was read."""
        return cls(f"achieved_fpr_at_{target:g}")


#: Each reported metric's name in the report and what it means, in one sentence (the report's glossary).
MEANINGS: dict[Metric, tuple[str, str]] = {
    Metric.AUC: (
        "AUC",
        "Area under the attack's ROC curve over every threshold: 0.5 is guessing, 1.0 certain; "
        "the strongest attack is the one with the highest AUC.",
    ),
    Metric.BALANCED_ACCURACY: (
        "Balanced accuracy (attack success rate)",
        "The attack's success rate: the mean of its true-positive and true-negative "
        "rates at the threshold it calibrated without seeing the audited records (0.5 is guessing).",
    ),
    Metric.BEST_ACCURACY: (
        "Best accuracy",
        "Balanced accuracy at the best threshold chosen on the audited records themselves: "
        "an upper bound, not an attack a real adversary could calibrate.",
    ),
    Metric.ADVANTAGE: (
        "Advantage",
        "Membership advantage: the largest TPR − FPR over all thresholds (0 is guessing, 1 "
        "certain); not to be confused with an AUC's lead over guessing, AUC − 0.5.",
    ),
    Metric.TPR_AT_FPR_0_01: (
        "TPR at 1% FPR",
        "The share of members found while wrongly flagging at most 1% of non-members "
        "(also at 0.1% and 10%): leakage of the most exposed records.",
    ),
    Metric.PRECISION: (
        "Precision",
        "Of the records the attack flags as members at its calibrated threshold, the share that are members.",
    ),
    Metric.EPSILON_LOWER_BOUND: (
        "ε lower bound",
        "The smallest differential-privacy ε consistent with the attack's error "
        "rates at its calibrated threshold (δ = 0, Clopper-Pearson at 95%).",
    ),
    Metric.TEST_ACCURACY: (
        "Test accuracy",
        "The released outputs' accuracy on held-out test records, one query each.",
    ),
    Metric.ACCURACY_DROP: (
        "Accuracy drop (accuracy cost)",
        "Undefended test accuracy minus defended: what the defense costs in utility.",
    ),
    Metric.PUT: (
        "PUT",
        "Per attack, the reduction in its success rate minus the accuracy drop (the DynaNoise "
        "paper's privacy-utility trade-off).",
    ),
    Metric.MIDPUT: (
        "MIDPUT",
        "The mean PUT over the attacks run: larger is a better privacy-utility trade-off.",
    ),
    Metric.QUERIES_TO_REGAIN: (
        "Queries to regain",
        "The fewest queries per record at which the averaging attacker regains 90% of "
        "the undefended AUC − 0.5.",
    ),
}

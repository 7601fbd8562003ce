"""The names of every metric dynaudit reports (a ``StrEnum``: each member equals the string in the tables)."""

from enum import StrEnum

#: The false-positive rates at which every attack's TPR is reported.
FPR_TARGETS = (0.001, 0.01, 0.1)


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
    # one condition
    TEST_ACCURACY = "test_accuracy"
    ACCURACY_DROP = "accuracy_drop"
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

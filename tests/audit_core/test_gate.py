import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit_core.audit.analysis import METRIC_COLUMNS, analyse_scores, drop_rows
from audit_core.config import AuditConfig
from audit_core.core.errors import AuditInputError, ConfigError
from audit_core.gate.check import CHOSEN_ROLE, GatePolicy, check_gate
from audit_core.gate.inputs import check_policy, load_policy, read_metrics
from audit_core.gate.reports import junit_xml, markdown_summary
from audit_core.stats.family import logit_auc_bounds
from audit_core.stats.metrics import auc_score_interval, roc_auc, tpr_at_fpr_bounds
from audit_core.stats.paired import PairedDrop

DYNANOISE = "dynanoise(sigma0_sq=0.3, lam=2, T=10)"
STATIC = "static_noise(sigma_sq=1)"
SHIPPED = load_policy(Path(__file__).parents[2] / "policies" / "ci.yaml")
SEED = 3


def simulated_metrics(
    shifts: dict[str, float],
    *,
    members: int = 500,
    non_members: int = 500,
    flips: dict[str, int] | None = None,
    test_points: int = 400,
    seed: int = SEED,
    attacks: tuple[str, ...] = ("loss", "rmia"),
) -> pd.DataFrame:
    """metrics.parquet rows of an audit whose ``attacks`` score members ``N(shift, 1)`` and non-members
    ``N(0, 1)`` on each condition (two attacker knowledges), analysed by dynaudit's analysis;
    each defended condition answers ``flips[condition]`` of ``test_points`` wrong that undefended got
    right."""
    rng = np.random.default_rng(seed)
    frames = [
        pd.DataFrame(
            {
                "condition": condition,
                "defense": condition.partition("(")[0],
                "knowledge": knowledge,
                "attack": attack,
                "is_member": np.r_[np.ones(members, bool), np.zeros(non_members, bool)],
                "score": np.r_[rng.normal(shift, 1, members), rng.normal(0, 1, non_members)],
            }
        )
        for condition, shift in shifts.items()
        for knowledge in ("naive", "adaptive")
        for attack in attacks
    ]
    metrics = analyse_scores(pd.concat(frames), seed=seed)
    undefended = rng.random(test_points) < 0.9
    rows = []
    for condition in shifts:
        if condition != "undefended":
            defended = undefended.copy()
            defended[np.flatnonzero(undefended)[: (flips or {}).get(condition, 0)]] = False
            drop = PairedDrop.of(undefended, defended)
            rows += [(condition, condition.partition("(")[0], None, None, *r) for r in drop_rows(drop)]
    return pd.concat([metrics, pd.DataFrame(rows, columns=METRIC_COLUMNS)], ignore_index=True)


def _rule(verdict, name):
    return next(r for r in verdict.rules if r.rule == name)


def test_a_null_audit_passes_the_shipped_policy_and_a_leaky_one_fails_it():
    null = simulated_metrics({"undefended": 0.0, DYNANOISE: 0.0})
    verdict = check_gate(SHIPPED, null, chosen=DYNANOISE)
    assert verdict.passed and verdict.conditions == [DYNANOISE]
    assert verdict.family_size == 3 * 4 + 1  # three attack rules x (2 attacks x 2 knowledges), one drop
    assert verdict.headline.startswith(f"PASSED on {DYNANOISE}: all 4 rules shown to hold (family-wise")
    one_rule = check_gate(GatePolicy(max_auc=0.6), null, chosen=DYNANOISE)
    assert one_rule.headline.startswith(f"PASSED on {DYNANOISE}: 1 rule shown to hold (family-wise")
    leaky = simulated_metrics({"undefended": 0.0, DYNANOISE: 1.0})
    failed = check_gate(SHIPPED, leaky, chosen=DYNANOISE)
    auc = _rule(failed, "max_auc")
    assert not failed.passed and auc.outcome == "fail" and auc.measurement.low > 0.6
    assert auc.measurement.where.startswith("attack ") and DYNANOISE in auc.measurement.where
    broken = f"{sum(not r.passed for r in failed.rules)} of {len(failed.rules)} rules broken: "
    assert failed.headline.startswith(f"FAILED on {DYNANOISE}: {broken}")
    assert "max_auc" in failed.headline


def _one_attack(members: np.ndarray, non_members: np.ndarray) -> pd.DataFrame:
    """scores.parquet rows of one attack under naive knowledge on the undefended model."""
    return pd.DataFrame(
        {
            "condition": "undefended",
            "knowledge": "naive",
            "attack": "loss",
            "is_member": np.r_[np.ones(len(members), bool), np.zeros(len(non_members), bool)],
            "score": np.r_[members, non_members],
        }
    )


def _gate_bounds(rows: pd.DataFrame, z: float, points: int) -> tuple[pd.Series, pd.Series]:
    """The AUC bounds of docs/statistics.md, written here: on each side the more cautious of the bound
    normal on the logit scale and the score bound (Newcombe's, tested in test_metrics.py)."""
    se = (rows.ci_high - rows.ci_low) / (2 * 1.959964)
    centre, margin = np.log(rows.value / (1 - rows.value)), z * se / (rows.value * (1 - rows.value))
    level = 1 - 2 * stats.norm.sf(z)
    score = [auc_score_interval(value, points, points, level) for value in rows.value]
    low = np.minimum(1 / (1 + np.exp(-(centre - margin))), [s.ci_low for s in score])
    high = np.maximum(1 / (1 + np.exp(-(centre + margin))), [s.ci_high for s in score])
    return pd.Series(low, index=rows.index), pd.Series(high, index=rows.index)


def test_each_bound_holds_at_alpha_over_the_family_size():
    metrics = simulated_metrics({"undefended": 0.3, DYNANOISE: 0.3})
    verdict = check_gate(GatePolicy(max_auc=0.9, condition="undefended"), metrics)
    rows = metrics[(metrics.metric == "auc") & (metrics.slice == "all") & (metrics.condition == "undefended")]
    z = 2.241403  # P(Z > z) = 0.05 / 4: two attacks x two knowledges
    assert verdict.family_size == 4
    assert verdict.rules[0].measurement.high == pytest.approx(_gate_bounds(rows, z, 500)[1].max())
    assert "at most 0.05 over 4 values" in verdict.headline
    # a strong attack on few points: value + z se passes 1, the logit bound stays below it
    strong = simulated_metrics({"undefended": 2.0, DYNANOISE: 2.0}, members=25, non_members=25)
    rows = strong[(strong.metric == "auc") & (strong.slice == "all") & (strong.condition == "undefended")]
    assert (rows.value + z * (rows.ci_high - rows.ci_low) / (2 * 1.959964)).max() > 1
    measured = check_gate(GatePolicy(max_auc=0.9, condition="undefended"), strong).rules[0].measurement
    lows, highs = _gate_bounds(rows, z, 25)
    assert measured.high == pytest.approx(highs.max()) and measured.high < 1
    assert 0 < measured.low < measured.point and measured.low == pytest.approx(lows[highs.idxmax()])


def test_the_tpr_rule_reads_its_bounds_from_the_scores_when_the_audit_has_them():
    """With the audit's scores, max_tpr_at_1pct_fpr's bounds are the order-statistic ones at alpha over the
    family (tested in test_gate_statistics.py); without them (a bare metrics.parquet) they are the count's
    at the thresholds it was read at, narrower. A model at the limit no longer fails where the count says
    it is above it (the count's lower bound erred in about 30% of such audits)."""
    rng = np.random.default_rng(SEED)
    frame = _one_attack(rng.normal(1.0, 1, 1000), rng.normal(0, 1, 1000))
    metrics = analyse_scores(frame, seed=SEED)
    policy = GatePolicy(max_tpr_at_1pct_fpr=0.05, condition="undefended")
    with_scores = check_gate(policy, metrics, scores=(frame, None)).rules[0].measurement
    members, non_members = frame.score[frame.is_member].to_numpy(), frame.score[~frame.is_member].to_numpy()
    expected = tpr_at_fpr_bounds(members, non_members, 0.01, 0.05)
    assert (with_scores.low, with_scores.high) == (expected.low, expected.high)
    count_only = check_gate(policy, metrics).rules[0].measurement
    assert count_only.point == with_scores.point
    assert with_scores.low < count_only.low and with_scores.high > count_only.high


def test_where_label_only_attacks_alone_break_max_auc_the_advice_is_to_change_the_model_not_the_defense():
    shifts = {"undefended": 1.5, DYNANOISE: 1.5, STATIC: 1.5}
    by_labels = check_gate(SHIPPED, simulated_metrics(shifts, attacks=("rmia", "boundary")), chosen=DYNANOISE)
    floor = check_gate(
        GatePolicy(max_auc=0.6, condition="undefended", attacks=["boundary"]),
        simulated_metrics(shifts, attacks=("rmia", "boundary")),
    ).rules[0]
    assert floor.outcome == "fail" and floor.measurement.low > 0.6
    assert by_labels.recommendation.endswith(
        "No defense that keeps the predicted class can meet max_auc: on the undefended model, "
        f"{floor.measurement.where} reaches {floor.measurement.point:.4f} (simultaneous lower bound "
        f"{floor.measurement.low:.4f}) from predicted classes alone, and such a defense leaves them as they "
        "are. Lower the model's own leakage (regularisation, more training data, differentially private "
        "training) or relax max_auc."
    )
    by_confidences = check_gate(SHIPPED, simulated_metrics(shifts), chosen=DYNANOISE)
    assert by_confidences.recommendation.endswith("Tune DynaNoise against these limits or relax the policy.")


def test_a_defense_whose_accuracy_drop_measures_above_the_limit_is_not_advised_though_undecided():
    """A drop of 6 answers in 60 (0.1 against the shipped 0.05) that too few test records decide: the verdict
    passes it with a warning; the advice deploys not it but the defense that measures within the limits."""
    metrics = simulated_metrics(
        {"undefended": 1.0, DYNANOISE: 0.0, STATIC: 0.0}, flips={DYNANOISE: 6, STATIC: 0}, test_points=60
    )
    verdict = check_gate(SHIPPED, metrics, chosen=DYNANOISE)
    drop = _rule(verdict, "max_accuracy_drop")
    assert verdict.status == "UNRESOLVED" and drop.outcome == "unresolved" and drop.measurement.point == 0.1
    assert verdict.recommendation.startswith(
        f"Do not deploy the chosen defense, {DYNANOISE}, on this evidence: it breaks no rule shown, but "
        "max_accuracy_drop measures 0.1000 against a limit of 0.05. It is not shown to meet "
    )
    assert verdict.recommendation.endswith(
        f"{STATIC} breaks none and measures within every limit at an accuracy cost of +0.0000."
    )
    on_static = check_gate(SHIPPED, metrics, chosen=STATIC)  # the same audit, the other defense chosen
    assert on_static.recommendation.startswith(f"Deploy the chosen defense, {STATIC}: it breaks no rule")
    # the largest of many AUCs overestimates them: an undecided max_auc above the limit is not held against it
    strict = check_gate(SHIPPED.model_copy(update={"max_auc": 0.51}), metrics, chosen=STATIC)
    auc = _rule(strict, "max_auc")
    assert auc.outcome == "unresolved" and auc.measurement.point > 0.51
    assert strict.recommendation.startswith(f"Deploy the chosen defense, {STATIC}")


def test_an_undefended_model_shown_within_every_limit_is_advised_no_defense():
    """The undefended model is shown to meet every rule (a model that leaks nothing): the advice is no
    defense, with what the chosen one would cost. A policy of no attack limit says nothing of privacy and
    keeps the usual advice, as does a policy the undefended model is not shown to meet."""
    metrics = simulated_metrics({"undefended": 0.0, DYNANOISE: 0.0}, flips={DYNANOISE: 8})
    assert check_gate(SHIPPED, metrics, chosen=DYNANOISE).recommendation == (
        "No defense is needed: the undefended model is shown to meet every rule of the policy, and the "
        f"chosen defense, {DYNANOISE}, would lower the test accuracy by 0.0200."
    )
    free = simulated_metrics({"undefended": 0.0, DYNANOISE: 0.0})
    assert check_gate(SHIPPED, free, chosen=DYNANOISE).recommendation == (
        "No defense is needed: the undefended model is shown to meet every rule of the policy."
    )
    drop_only = check_gate(GatePolicy(max_accuracy_drop=0.05), metrics, chosen=DYNANOISE)
    assert drop_only.recommendation.startswith(f"Deploy the chosen defense, {DYNANOISE}: it meets every rule")
    strict = check_gate(SHIPPED.model_copy(update={"max_auc": 0.51}), metrics, chosen=DYNANOISE)
    assert _rule(strict, "max_auc").outcome == "unresolved"
    assert strict.recommendation.startswith(f"Deploy the chosen defense, {DYNANOISE}: it breaks no rule")


def test_the_policy_aims_at_the_chosen_defense_a_named_one_or_every_one():
    metrics = simulated_metrics({"undefended": 1.0, DYNANOISE: 0.0, STATIC: 1.0}, flips={STATIC: 8})
    chosen = check_gate(SHIPPED, metrics, chosen=DYNANOISE)
    assert chosen.passed and chosen.conditions == [DYNANOISE]
    assert chosen.recommendation.startswith(f"Deploy the chosen defense, {DYNANOISE}: it meets every rule")
    named = check_gate(SHIPPED.model_copy(update={"condition": "static_noise"}), metrics, chosen=DYNANOISE)
    assert not named.passed and named.conditions == [STATIC]
    by_label = check_gate(SHIPPED.model_copy(update={"condition": STATIC}), metrics, chosen=DYNANOISE)
    assert by_label.conditions == [STATIC]
    worst = check_gate(SHIPPED.model_copy(update={"condition": "any_defended"}), metrics, chosen=DYNANOISE)
    assert not worst.passed and worst.conditions == [DYNANOISE, STATIC]
    assert STATIC in _rule(worst, "max_auc").measurement.where
    on_static = check_gate(SHIPPED, metrics, chosen=STATIC)
    assert on_static.recommendation.startswith(f"The chosen defense, {STATIC}, breaks max_auc")
    assert (
        f"Of the 2 audited defenses, 1 breaks no rule; deploy {DYNANOISE}, which meets every rule at an "
        in (on_static.recommendation)
    )
    with pytest.raises(AuditInputError, match="no condition 'memguard'"):
        check_gate(SHIPPED.model_copy(update={"condition": "memguard"}), metrics, chosen=DYNANOISE)
    with pytest.raises(AuditInputError, match="checks the chosen defense, but the audit has none"):
        check_gate(SHIPPED, metrics)


def test_the_accuracy_drop_rule_decides_on_exact_bounds_from_the_changed_answers():
    def drop_rule(limit, **audit):
        metrics = simulated_metrics({"undefended": 0.0, DYNANOISE: 0.0}, **audit)
        return _rule(
            check_gate(GatePolicy(max_accuracy_drop=limit), metrics, chosen=DYNANOISE), "max_accuracy_drop"
        )

    # no answer of 14 changed by a defense that may change labels: the rate of lost answers is only bounded by
    # 1 - (alpha / 2) ** (1 / 14) (one value, Clopper-Pearson at half the error), far above 0.05
    few = drop_rule(0.05, test_points=14)
    assert few.outcome == "unresolved" and few.measurement.point == 0.0
    assert few.measurement.high == pytest.approx(1 - 0.025 ** (1 / 14))
    assert few.reason.startswith("max_accuracy_drop is unresolved: the audit is too small to show a value")
    assert (
        "even a defense that changes no answer would reach" in few.reason
        and f"({DYNANOISE}, 0 of 14 test answers lost and 0 gained)" in few.reason
    )
    # the same on 400 test points bounds the drop by 1 - 0.025 ** (1 / 400) = 0.0092
    assert drop_rule(0.01).outcome == "pass" and drop_rule(0.009).outcome == "unresolved"
    # losing 2 of 400 test points is not shown to exceed a 0.05 limit; losing 60 of 400 is
    assert drop_rule(0.05, flips={DYNANOISE: 2}).outcome == "pass"
    broken = drop_rule(0.05, flips={DYNANOISE: 60})
    # lower bound: 60 of 400 lost at least at Clopper-Pearson's rate, less the most that 0 gained may hide
    lost_low, gained_high = stats.beta.ppf(0.025, 60, 341), 1 - 0.025 ** (1 / 400)
    assert broken.outcome == "fail" and broken.measurement.low == pytest.approx(lost_low - gained_high)


def test_a_label_only_attack_is_bounded_exactly_from_the_points_it_scored_high():
    """A label-only attack on a model right on all 150 members and 147 of 150 non-members (AUC 0.51): the
    bootstrap sees no spread among the members, and its logit upper bound, 0.5198 at 0.05, would pass
    max_auc 0.52; the exact bounds from the counts (Clopper-Pearson on each rate at half the error, written
    here) leave the rule unresolved, and the metrics say what the interval rests on."""
    is_member = np.r_[np.ones(150, bool), np.zeros(150, bool)]
    right = np.r_[np.ones(297, bool), np.zeros(3, bool)]
    scores = pd.DataFrame(
        {"condition": "undefended", "knowledge": "naive", "attack": "label_only", "is_member": is_member}
    ).assign(score=right * 1.0)
    metrics = analyse_scores(scores, seed=SEED)
    values = metrics[metrics.slice == "all"].set_index("metric")
    assert (values.value["members_scored_high"], values.value["non_members_scored_high"]) == (150, 147)
    assert (
        values.note["auc"] == "1 answer per query; exact interval: Clopper-Pearson on the points scored high"
    )
    high = 1 - stats.beta.ppf(0.025, 147, 4) / 2  # (1 + 1 - lower bound of 147/150) / 2
    low = (1 + 0.025 ** (1 / 150) - stats.beta.ppf(0.975, 148, 3)) / 2
    rule = check_gate(GatePolicy(max_auc=0.52, condition="undefended"), metrics).rules[0]
    assert rule.measurement.point == pytest.approx(0.51)
    assert (rule.measurement.low, rule.measurement.high) == pytest.approx((low, high))
    assert rule.outcome == "unresolved" and high > 0.52
    bootstrap = roc_auc(right * 1.0, is_member, rng=np.random.default_rng(SEED))
    assert logit_auc_bounds(bootstrap.value, bootstrap.ci_low, bootstrap.ci_high, 0.05).high < 0.52
    # the stored 95% interval is the exact one, each side at 0.025 (0.0125 per rate)
    exact = (
        (1 + 0.0125 ** (1 / 150) - stats.beta.ppf(0.9875, 148, 3)) / 2,
        1 - stats.beta.ppf(0.0125, 147, 4) / 2,
    )
    assert (values.ci_low["auc"], values.ci_high["auc"]) == pytest.approx(exact)
    # "too small": a model that leaks nothing at this attack's pooled rate (297 of 300: 148 of each 150)
    null = check_gate(GatePolicy(max_auc=0.5, condition="undefended"), metrics).rules[0]
    null_high = (1 + stats.beta.ppf(0.975, 149, 2) - stats.beta.ppf(0.025, 148, 3)) / 2
    assert null.too_small and null.measurement.null_high == pytest.approx(null_high)
    # a continuous attack's metrics carry no such counts
    continuous = simulated_metrics({"undefended": 0.0})
    assert not continuous.metric.isin(["members_scored_high", "non_members_scored_high"]).any()


def test_the_gate_refuses_metrics_without_the_changed_answers_counts():
    metrics = simulated_metrics({"undefended": 0.0, DYNANOISE: 0.0})
    older = metrics[~metrics.metric.isin(["answers_lost", "answers_gained", "test_points"])]
    with pytest.raises(AuditInputError, match="no counts of the answers a defense changed"):
        check_gate(GatePolicy(max_accuracy_drop=0.05), older, chosen=DYNANOISE)
    assert check_gate(GatePolicy(max_auc=0.6), older, chosen=DYNANOISE).passed
    oldest = older[~older.metric.isin(["members", "non_members"])]
    with pytest.raises(AuditInputError, match="no member counts"):
        check_gate(GatePolicy(max_auc=0.6), oldest, chosen=DYNANOISE)


def test_an_audit_too_small_to_resolve_a_limit_says_so_and_the_policy_decides():
    small = simulated_metrics({"undefended": 0.0, DYNANOISE: 0.0}, members=150, non_members=150)
    verdict = check_gate(SHIPPED, small, chosen=DYNANOISE)
    tpr = _rule(verdict, "max_tpr_at_1pct_fpr")
    assert SHIPPED.unresolved == "warn" and verdict.passed and tpr.outcome == "unresolved"
    unresolved = [r.rule for r in verdict.rules if r.outcome == "unresolved"]
    assert verdict.status == "UNRESOLVED" and [r.rule for r in verdict.undecided] == unresolved
    assert verdict.headline.startswith(
        f"UNRESOLVED on {DYNANOISE}: {4 - len(unresolved)} of 4 rules shown to hold, none broken; not "
        "decided: max_advantage, max_tpr_at_1pct_fpr (the audit is too small to show them held), max_auc "
        "(too close to call); the policy's 'unresolved: warn' passes them with a warning (family-wise"
    )
    assert tpr.reason.startswith("max_tpr_at_1pct_fpr is unresolved: the audit is too small")
    assert tpr.reason.count(".") >= 1 and "\n" not in tpr.reason and tpr.reason in verdict.warnings
    assert markdown_summary(verdict, "demo").startswith("## dynaudit gate `demo`: UNRESOLVED\n")
    case = ET.fromstring(junit_xml(verdict, "demo")).find("testsuite/testcase[@name='max_tpr_at_1pct_fpr']")
    assert case.find("skipped").get("message") == tpr.reason and case.find("failure") is None
    strict = check_gate(SHIPPED.model_copy(update={"unresolved": "fail"}), small, chosen=DYNANOISE)
    assert not strict.passed and strict.status == "FAILED" and strict.headline.startswith("FAILED on")
    assert not strict.undecided and tpr.reason not in strict.warnings and ".;" not in strict.headline
    assert tpr.reason.removesuffix(".") in strict.headline  # the failed rules' reasons, as clauses
    case = ET.fromstring(junit_xml(strict, "demo")).find("testsuite/testcase[@name='max_tpr_at_1pct_fpr']")
    assert case.find("failure").get("type") == "Unresolved"
    # `unresolved: pass` decides it: a pass without a warning, the reason kept with the rule
    lenient = check_gate(SHIPPED.model_copy(update={"unresolved": "pass"}), small, chosen=DYNANOISE)
    assert lenient.passed and lenient.status == "PASSED" and tpr.reason not in lenient.warnings
    assert lenient.headline.startswith(f"PASSED on {DYNANOISE}: 1 of 4 rules shown to hold; not decided: ")
    assert "the policy's 'unresolved: pass' counts them as passed" in lenient.headline
    suite = ET.fromstring(junit_xml(lenient, "demo")).find("testsuite")
    assert suite.get("skipped") == "0" and suite.find("testcase/skipped") is None
    assert tpr.reason in suite.find("testcase[@name='max_tpr_at_1pct_fpr']/system-out").text
    too_small = [
        r.rule for r in verdict.rules if r.reason.startswith(f"{r.rule} is unresolved: the audit is too")
    ]
    close = [r for r in unresolved if r not in too_small]
    assert [r.rule for r in verdict.rules if r.too_small] == too_small
    assert too_small == ["max_advantage", "max_tpr_at_1pct_fpr"] and close == ["max_auc"]
    assert verdict.recommendation == (
        f"Deploy the chosen defense, {DYNANOISE}: it breaks no rule of the policy at an accuracy cost of "
        "+0.0000. It is not shown to meet max_advantage, max_tpr_at_1pct_fpr (the audit is too small to show "
        "them held) or max_auc (too close to call): more audit records would decide them."
    )
    # 75 non-members per cross-fitting half place no threshold at 1% FPR: not a failure, however many flagged
    leaky = simulated_metrics({"undefended": 0.0, DYNANOISE: 2.0}, members=150, non_members=150)
    failed = check_gate(SHIPPED, leaky, chosen=DYNANOISE)
    tpr = _rule(failed, "max_tpr_at_1pct_fpr")
    assert tpr.outcome == "unresolved" and failed.status == "FAILED" and failed.warned == [tpr]
    # beside a broken rule, an undecided one is still passed with a warning, as the policy says
    assert (
        tpr.reason in failed.warnings
        and "; not decided: max_tpr_at_1pct_fpr (the audit is too" in failed.headline
    )
    case = ET.fromstring(junit_xml(failed, "demo")).find("testsuite/testcase[@name='max_tpr_at_1pct_fpr']")
    assert case.find("skipped").get("message") == tpr.reason


def test_previous_runs_compare_like_with_like_and_warn_about_another_config():
    previous = simulated_metrics({"undefended": 0.0, DYNANOISE: 0.0}, seed=1)
    current = simulated_metrics({"undefended": 0.0, DYNANOISE: 1.0, STATIC: 1.0}, seed=2)
    policy = SHIPPED.model_copy(update={"condition": "any_defended", "max_regression": 0.02})
    verdict = check_gate(policy, current, previous, chosen=DYNANOISE, digests=("aaaa1111", "bbbb2222"))
    comparison = verdict.comparison
    assert all(STATIC not in r.where for r in comparison.regressions)
    assert comparison.regressions and all(r.where.startswith(CHOSEN_ROLE) for r in comparison.regressions)
    assert any(k.startswith(f"max_auc: {STATIC}") for k in comparison.new) and comparison.gone == []
    assert comparison.warnings[0].startswith("The previous run audited another config (digest bbbb2222")
    regression = _rule(verdict, "max_regression")
    assert regression.outcome == "fail" and regression.measurement.low > 0.02  # DynaNoise's AUC rose by 0.29
    assert (
        regression.values == len(comparison.regressions) and verdict.family_size == 2 * 13 + regression.values
    )
    summary = markdown_summary(verdict, "r")
    assert "(rise)" in summary and "New in this run" in summary and "another config" in summary
    same = check_gate(policy, previous, previous, chosen=DYNANOISE, digests=("aaaa1111", "aaaa1111"))
    assert same.comparison.warnings == [] and all(r.delta == 0 for r in same.comparison.regressions)


def test_a_chosen_defense_tuned_anew_is_compared_with_the_previous_runs_chosen_one():
    """Nightly audits tune DynaNoise anew, so the chosen condition's label changes from run to run; its
    values are matched by role (the previous run's chosen, from its manifest), not left all 'new'."""
    retuned = "dynanoise(sigma0_sq=0.37, lam=2.55, T=17.7, per_input)"
    previous = simulated_metrics({"undefended": 0.0, DYNANOISE: 0.0}, seed=1)
    current = simulated_metrics({"undefended": 0.0, retuned: 1.0}, seed=2)
    verdict = check_gate(SHIPPED, current, previous, chosen=retuned, previous_chosen=DYNANOISE)
    assert verdict.comparison.new == [] and verdict.comparison.gone == []
    assert len(verdict.comparison.regressions) == 3 * 4 + 1
    assert all(r.where.startswith(CHOSEN_ROLE) for r in verdict.comparison.regressions)
    rise = _rule(verdict, "max_regression")
    assert rise.outcome == "fail" and retuned in rise.measurement.where  # the AUC rose with the new setting
    unmatched = check_gate(SHIPPED, current, previous, chosen=retuned)  # the previous chosen unknown
    assert unmatched.comparison.regressions == [] and len(unmatched.comparison.new) == 3 * 4 + 1
    summary = markdown_summary(unmatched, "r")
    assert (
        f"New in this run ({3 * 4 + 1}): " in summary
        and "; and 3 more (every one in manifest.json" in summary
    )


def test_max_regression_does_not_fail_two_audits_of_models_that_leak_nothing():
    """Pairs of null audits (200/200 points, independent draws): the point estimates' largest rise over the
    matched values exceeds the shipped 0.02 in nearly every pair, a rise shown by the bounds in at most alpha
    of them; a real rise (AUC 0.5 to 0.76) is shown."""
    pairs, shown, above = 30, 0, 0
    sizes = {"members": 200, "non_members": 200}
    for seed in range(pairs):
        before = simulated_metrics({"undefended": 0.0, DYNANOISE: 0.0}, **sizes, seed=100 + seed)
        now = simulated_metrics({"undefended": 0.0, DYNANOISE: 0.0}, **sizes, seed=200 + seed)
        verdict = check_gate(SHIPPED, now, before, chosen=DYNANOISE)
        shown += _rule(verdict, "max_regression").outcome == "fail"
        above += verdict.comparison.regressions[0].delta > SHIPPED.max_regression
    assert above >= pairs * 0.75  # what the rule decided on before
    assert shown <= pairs * 0.05 + 3 * (pairs * 0.05 * 0.95) ** 0.5
    leaky = simulated_metrics({"undefended": 0.0, DYNANOISE: 1.0}, **sizes, seed=300)
    assert _rule(check_gate(SHIPPED, leaky, before, chosen=DYNANOISE), "max_regression").outcome == "fail"


@pytest.mark.parametrize(
    ("yaml_text", "sentence"),
    [
        ("max_auc: 2\n", "field 'max_auc' = 2 is invalid"),
        ("{max_auc: 0.6, unresolved: maybe}\n", "field 'unresolved' = 'maybe' is invalid"),
        ("{max_auc: 0.6, alpha: 0.7}\n", "field 'alpha' = 0.7 is invalid"),
        ("condition: any_defended\n", "sets no limit; expected at least one of max_auc"),
        ("{condition: undefended, max_accuracy_drop: 0.1}\n", "condition 'undefended' has none"),
        ("{max_auc: 0.6, attacks: [lira2]}\n", "unknown attack 'lira2'"),
        ("max_aux: 0.6\n", "unknown field 'max_aux'; did you mean 'max_auc'? the top level takes"),
        ("- 1\n", "expected a mapping of GatePolicy fields, got list"),
    ],
)
def test_invalid_policies_get_one_sentence_naming_the_field(tmp_path, yaml_text, sentence):
    path = tmp_path / "policy.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and sentence in message and "\n" not in message


@pytest.mark.parametrize(
    ("policy", "config", "sentence"),
    [
        ({"knowledge": "averaging"}, {"knowledge": ["naive"]}, "Policy knowledge 'averaging' is not run"),
        ({"attacks": ["rmia"]}, {"attacks": ["loss"]}, "Policy attack 'rmia' is not run by the config"),
        ({}, {"defenses": []}, "checks condition 'chosen', but the config lists no defenses and tunes none"),
        ({"condition": "memguard"}, {}, "Policy condition 'memguard' is no defense of the config"),
    ],
)
def test_a_policy_must_ask_for_numbers_the_config_produces(policy, config, sentence):
    with pytest.raises(ConfigError, match=sentence):
        check_policy(GatePolicy(max_auc=0.6, **policy), AuditConfig(**config))
    check_policy(GatePolicy(max_auc=0.6, condition="undefended"), AuditConfig(defenses=[]))
    check_policy(GatePolicy(max_auc=0.6), AuditConfig(defenses=[], tune={}))  # tuning adds the chosen one
    check_policy(GatePolicy(max_auc=0.6, condition="dynanoise"), AuditConfig())


def test_read_metrics_accepts_only_dynaudit_metrics_tables(tmp_path):
    metrics = simulated_metrics({"undefended": 0.0, DYNANOISE: 0.0})
    metrics.to_parquet(tmp_path / "metrics.parquet")
    read = read_metrics(tmp_path / "metrics.parquet")
    assert list(read.columns) == METRIC_COLUMNS and read[["metric", "value"]].equals(
        metrics[["metric", "value"]]
    )
    metrics.drop(columns="ci_high").to_parquet(tmp_path / "other.parquet")
    with pytest.raises(AuditInputError, match="has no column 'ci_high'"):
        read_metrics(tmp_path / "other.parquet")
    (tmp_path / "text.parquet").write_text("not parquet")
    with pytest.raises(AuditInputError, match="is not a readable Parquet file"):
        read_metrics(tmp_path / "text.parquet")


def test_the_shipped_policy_fits_the_shipped_demo_config():
    check_policy(SHIPPED, AuditConfig())
    assert SHIPPED.limits == {
        "max_auc": 0.6,
        "max_advantage": 0.25,
        "max_tpr_at_1pct_fpr": 0.05,
        "max_accuracy_drop": 0.05,
    }
    assert (SHIPPED.condition, SHIPPED.alpha, SHIPPED.unresolved) == ("chosen", 0.05, "warn")
    assert SHIPPED.max_regression == 0.02


def classed_metrics(
    classes: list[tuple[int, float]],
    *,
    seed: int,
    bootstrap: bool = True,
    attacks: tuple[str, ...] = ("loss", "rmia"),
) -> pd.DataFrame:
    """metrics.parquet rows of an undefended audit whose true classes each have ``points`` members and as
    many non-members, scored ``N(shift, 1)`` and ``N(0, 1)`` by each attack under two knowledges, for
    ``classes`` a list of ``(points, shift)``."""
    rng = np.random.default_rng(seed)
    frames = []
    for knowledge in ("naive", "adaptive"):
        for attack in attacks:
            for label, (points, shift) in enumerate(classes):
                frames.append(
                    pd.DataFrame(
                        {
                            "condition": "undefended",
                            "knowledge": knowledge,
                            "attack": attack,
                            "label": label,
                            "is_member": np.r_[np.ones(points, bool), np.zeros(points, bool)],
                            "score": np.r_[rng.normal(shift, 1, points), rng.normal(0, 1, points)],
                        }
                    )
                )
    return analyse_scores(pd.concat(frames), seed=seed, bootstrap=bootstrap)


def test_a_minority_class_exposed_where_the_whole_audit_is_not_fails_max_class_auc():
    """900 + 900 records of a class the attacks cannot tell apart, 40 + 40 of a class they can (AUC about
    0.98): the AUC over all records stays within 0.6, the minority class's is shown above 0.7."""
    metrics = classed_metrics([(900, 0.0), (40, 3.0)], seed=SEED)
    policy = GatePolicy(condition="undefended", max_auc=0.6, max_class_auc=0.7)
    verdict = check_gate(policy, metrics)
    assert _rule(verdict, "max_auc").outcome == "pass"
    by_class = _rule(verdict, "max_class_auc")
    assert by_class.outcome == "fail" and by_class.measurement.low > 0.7
    assert by_class.measurement.where.endswith("undefended, class=1 (40/40 points)")
    assert verdict.family_size == 4 + 8  # max_auc: 2 attacks x 2 knowledges; max_class_auc: x 2 classes
    assert "max_class_auc" in markdown_summary(verdict, "fraud") and not verdict.passed
    named = _rule(check_gate(policy, metrics, class_names=["legit", "fraud"]), "max_class_auc")
    assert named.measurement.where.endswith("undefended, class=1 (fraud) (40/40 points)")


def test_max_class_auc_fails_audits_whose_classes_are_all_at_the_limit_at_most_at_alpha():
    """Four classes of 30 + 30 records, each at true AUC 0.7 under two attacks and two knowledges (16
    values): the gate with max_class_auc 0.7 fails at most 5% of 200 such audits."""
    shift = np.sqrt(2) * stats.norm.ppf(0.7)
    policy = GatePolicy(condition="undefended", max_class_auc=0.7)
    runs = 200
    failed = sum(
        check_gate(policy, classed_metrics([(30, shift)] * 4, seed=s, bootstrap=False)).rules[0].outcome
        == "fail"
        for s in range(runs)
    )
    assert failed / runs <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / runs)


def test_an_audit_that_separates_members_by_chance_is_not_failed_at_the_limit_more_than_alpha():
    """A model at max_auc 0.99 exactly (binormal), audited on 20 members and 20 non-members: about 30% of
    the audits separate every member from every non-member, whose bootstrap has no spread and whose AUC's
    bounds were 1; the gate fails at most 5% of 300 such audits."""
    shift, runs, points = np.sqrt(2) * stats.norm.ppf(0.99), 300, 20
    rng = np.random.default_rng(SEED)
    policy = GatePolicy(condition="undefended", max_auc=0.99)
    failed = separated = 0
    for seed in range(runs):
        scores = _one_attack(rng.normal(shift, 1, points), rng.normal(0, 1, points))
        metrics = analyse_scores(scores, seed=seed)
        separated += metrics.query("metric == 'auc'").value.iloc[0] == 1.0
        failed += check_gate(policy, metrics).rules[0].outcome == "fail"
    slack = 3 * np.sqrt(0.05 * 0.95 / runs)
    assert separated / runs > 0.05 + slack and failed / runs <= 0.05 + slack

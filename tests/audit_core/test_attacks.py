import numpy as np
import pytest
from scipy import stats

from audit_core.attacks import ATTACKS, AttackInput, CalibrationData, ShadowOutputs
from audit_core.attacks.base import SIDE_EVIDENCE
from audit_core.stats.metrics import roc_auc
from audit_core.targets import TorchTarget
from audit_core.training import train_classifier
from tests.audit_core.attack_data import SHADOW_RECIPE, blobs, released

SHADOW_ATTACKS = sorted(name for name, cls in ATTACKS.items() if cls.requires <= {"shadow", "shadow_queries"})


@pytest.mark.parametrize("name", SHADOW_ATTACKS)
def test_attack_detects_a_memorising_model(memorised, name):
    calibration, evaluated, is_member = memorised
    attack = ATTACKS[name]().fit(calibration)
    auc = roc_auc(attack.score(evaluated), is_member)
    # Well above chance: the whole 95% interval lies more than 3 null standard deviations above 0.5.
    assert auc.ci_low > 0.5 + 3 * np.sqrt((100 + 100 + 1) / (12 * 100 * 100)), auc
    assert np.mean(attack.predict(evaluated) == is_member) > 0.6


@pytest.mark.parametrize("name", SHADOW_ATTACKS)
def test_attack_is_at_chance_when_both_sets_are_held_out(memorised, name):
    """Members and non-members both drawn from data the target never saw: AUC ~ 0.5 within 4 standard
    deviations of the Mann-Whitney null, sqrt((m + n + 1) / (12 m n))."""
    calibration, _, _ = memorised
    target = TorchTarget(train_classifier(*blobs(100, seed=1), 10, SHADOW_RECIPE, seed=0))
    first, second = blobs(150, seed=5), blobs(150, seed=6)
    evaluated = released(target, np.vstack([first[0], second[0]]), np.r_[first[1], second[1]])
    is_member = np.r_[np.ones(150, bool), np.zeros(150, bool)]
    auc = roc_auc(ATTACKS[name]().fit(calibration).score(evaluated), is_member).value
    null_sd = np.sqrt((150 + 150 + 1) / (12 * 150 * 150))
    assert abs(auc - 0.5) < 4 * null_sd


def test_statistics_match_their_definitions():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    labels = np.array([0, 1])
    outputs = AttackInput(probs, labels)
    stat = {
        name: ATTACKS[name]().statistic(outputs)
        for name in ["confidence", "loss", "entropy", "modified_entropy"]
    }
    assert stat["confidence"] == pytest.approx([0.7, 0.1])
    assert stat["loss"] == pytest.approx(np.log([0.7, 0.1]))
    assert stat["entropy"] == pytest.approx(-stats.entropy(probs, axis=1))
    mentr_0 = -(0.3 * np.log(0.7)) - 0.2 * np.log(0.8) - 0.1 * np.log(0.9)
    mentr_1 = -(0.9 * np.log(0.1)) - 0.1 * np.log(0.9) - 0.8 * np.log(0.2)
    assert stat["modified_entropy"] == pytest.approx([-mentr_0, -mentr_1])


def test_class_dependent_thresholds_are_learned_per_class():
    """Class 0 members have confidence 0.9 vs 0.8 for non-members; class 1 members 0.6 vs 0.5. One global
    threshold cannot separate both classes; per-class thresholds separate them perfectly."""
    confidence = np.array([0.9, 0.8, 0.6, 0.5] * 10)
    labels = np.array([0, 0, 1, 1] * 10)
    probs = np.column_stack([np.where(labels == 0, confidence, 1 - confidence), np.zeros(40)])
    probs[:, 1] = 1 - probs[:, 0]
    outputs = AttackInput(probs, labels)
    is_member = np.array([True, False, True, False] * 10)
    calibration = CalibrationData(shadow=ShadowOutputs(outputs, is_member))
    per_class = ATTACKS["confidence"]().fit(calibration)
    assert np.array_equal(per_class.predict(outputs), is_member)
    assert per_class.class_thresholds_ == pytest.approx([0.9, 0.6])
    single = ATTACKS["confidence"](per_class=False).fit(calibration)
    assert not np.array_equal(single.predict(outputs), is_member)


def _confidence_outputs(member_margin: float, n: int, seed: int) -> tuple[AttackInput, np.ndarray]:
    """Two-class outputs whose true-class logit margin is N(member_margin, 1) for members and N(2, 1) for
    non-members, n of each."""
    rng = np.random.default_rng(seed)
    is_member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    margin = rng.normal(np.where(is_member, member_margin, 2.0), 1.0)
    labels = rng.integers(0, 2, 2 * n)
    p_y = 1 / (1 + np.exp(-margin))
    probs = np.column_stack([np.where(labels == 0, p_y, 1 - p_y), np.where(labels == 1, p_y, 1 - p_y)])
    return AttackInput(probs, labels), is_member


@pytest.mark.parametrize("name", ["confidence", "loss", "entropy", "modified_entropy"])
def test_threshold_attacks_learn_from_the_shadow_which_side_members_lie_on(name):
    """A defense can reverse a signal without removing it: here members' true-class margin is one standard
    deviation *below* non-members' (less confident, higher loss and entropy) on the shadow and the target
    alike. Calibrated on that shadow, the attack reads the statistic reversed and its AUC on the target is the
    published statistic's reflected (1 - AUC, the statistic computed independently here); calibrated on a
    shadow with the published side, it keeps it."""
    target, is_member = _confidence_outputs(1.0, 500, seed=1)
    p_y = target.probs[np.arange(len(target.labels)), target.labels]
    published = {  # larger means member in the published attacks; two classes: -Mentr = 2 (1 - p_y) log p_y
        "confidence": p_y,
        "loss": np.log(p_y),
        "entropy": -stats.entropy(target.probs, axis=1),
        "modified_entropy": 2 * (1 - p_y) * np.log(p_y),
    }[name]
    published_auc = roc_auc(published, is_member).value
    assert published_auc < 0.5 - 4 * np.sqrt((1000 + 1) / (12 * 500 * 500))  # the reversal is real
    for member_margin, side in ((1.0, "reversed"), (3.0, "published")):
        shadow, shadow_member = _confidence_outputs(member_margin, 500, seed=2)
        calibration = CalibrationData(shadow=ShadowOutputs(shadow, shadow_member))
        attack = ATTACKS[name](per_class=False).fit(calibration)  # one threshold: the AUC is the statistic's
        assert attack.chosen() == {"side": side}
        expected = 1 - published_auc if side == "reversed" else published_auc
        assert roc_auc(attack.score(target), is_member).value == pytest.approx(expected, abs=1e-12)


def test_a_shadow_without_signal_reads_reversed_at_the_side_evidence_rate():
    """Membership independent of the outputs: over 2,000 simulated shadows (100 members, 100 non-members), the
    loss attack takes the reversed side at SIDE_EVIDENCE's rate, within four binomial standard deviations."""
    rng = np.random.default_rng(7)
    is_member = np.arange(200) < 100
    reversed_count, runs = 0, 2000
    for _ in range(runs):
        p_y = rng.uniform(0.05, 0.95, 200)
        outputs = AttackInput(np.column_stack([p_y, 1 - p_y]), np.zeros(200, int))
        attack = ATTACKS["loss"]().fit(CalibrationData(shadow=ShadowOutputs(outputs, is_member)))
        reversed_count += attack.chosen() == {"side": "reversed"}
    sd = np.sqrt(SIDE_EVIDENCE * (1 - SIDE_EVIDENCE) / runs)
    assert abs(reversed_count / runs - SIDE_EVIDENCE) < 4 * sd


def test_paper_fixed_rules_and_label_only():
    probs = np.array([[0.95, 0.05], [0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    outputs = AttackInput(probs, np.array([0, 0, 0, 0]))
    empty = CalibrationData()
    assert ATTACKS["paper_confidence"]().fit(empty).predict(outputs).tolist() == [True, False, False, False]
    # cross-entropy < 0.5 means p_y > exp(-0.5) = 0.607
    assert ATTACKS["paper_loss"]().fit(empty).predict(outputs).tolist() == [True, True, False, False]
    assert ATTACKS["label_only"]().fit(empty).predict(outputs).tolist() == [True, True, False, True]


def test_every_attack_declares_what_it_needs():
    assert CalibrationData().missing(ATTACKS["rmia"].requires) == ["references", "target_population"]
    assert CalibrationData().missing(ATTACKS["label_only"].requires) == []


def test_attack_input_rejects_logits():
    with pytest.raises(ValueError, match="pass probabilities, not logits"):
        AttackInput(np.array([[2.0, 1.0]]), np.array([0]))

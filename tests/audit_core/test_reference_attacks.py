from dataclasses import replace

import numpy as np
import pytest
from scipy import stats
from scipy.special import softmax

from audit_core.attacks import ATTACKS, AttackInput, CalibrationData, ReferenceOutputs, logit_confidence
from audit_core.stats.metrics import roc_auc, tpr_at_fpr
from audit_core.training.references import complementary_in_masks


def test_online_lira_beats_the_global_loss_threshold_at_low_fpr(memorising_audit):
    calibration, outputs, is_member = memorising_audit
    lira = tpr_at_fpr(ATTACKS["lira_online"]().fit(calibration).score(outputs), is_member, 0.01)
    loss_scores = np.log(outputs.probs[np.arange(len(outputs)), outputs.labels])
    loss = tpr_at_fpr(loss_scores, is_member, 0.01)
    assert lira.resolved and lira.achieved_fpr <= 0.01
    # "Several times": the lower end of LiRA's Clopper-Pearson interval exceeds 3x the loss attack's TPR.
    assert lira.tpr.ci_low > 3 * loss.tpr.value, (lira, loss)


@pytest.mark.parametrize("name", ["lira_online", "lira_offline", "rmia"])
def test_reference_attacks_separate_members_and_calibrate_a_threshold(memorising_audit, name):
    calibration, outputs, is_member = memorising_audit
    attack = ATTACKS[name]().fit(calibration)
    assert roc_auc(attack.score(outputs), is_member, n_bootstrap=0).value > 0.85
    # The threshold comes from attacking reference models, so it transfers: well above chance on the target.
    assert np.mean(attack.predict(outputs) == is_member) > 0.7


def test_rmia_tunes_a_and_matches_a_brute_force_pairwise_definition(memorising_audit):
    calibration, outputs, _ = memorising_audit
    attack = ATTACKS["rmia"](gamma=1.5).fit(calibration)
    assert 0.0 <= attack.a_ <= 1.0 and attack.chosen() == {"a": attack.a_, "side": "published"}
    assert ATTACKS["rmia"](a=0.5).fit(calibration).chosen() == {"side": "published"}  # a given a is no choice
    refs = calibration.references
    p_ref = refs.audit[:, np.arange(len(outputs)), outputs.labels]
    mean_out = np.array([p_ref[~refs.in_mask[:, i], i].mean() for i in range(len(outputs))])
    prior_x = 0.5 * ((1 + attack.a_) * mean_out + 1 - attack.a_)
    p_pop = refs.population[:, np.arange(len(refs.population_labels)), refs.population_labels].mean(axis=0)
    prior_z = 0.5 * ((1 + attack.a_) * p_pop + 1 - attack.a_)
    target_pop = calibration.target_population
    ratio_z = target_pop.probs[np.arange(len(target_pop)), target_pop.labels] / prior_z
    ratio_x = outputs.probs[np.arange(len(outputs)), outputs.labels] / prior_x
    fraction = ((ratio_x[:, None] / ratio_z[None, :]) >= 1.5).mean(axis=1)
    scores = attack.score(outputs)
    # The score orders records exactly as the fraction of population points they beat (ties broken inside).
    assert np.all(np.diff(fraction[np.argsort(scores, kind="stable")]) >= 0)
    m = len(ratio_z)
    assert np.floor(scores * (m + 1)) / m == pytest.approx(fraction)


def test_logit_confidence_is_stable_for_confident_outputs():
    logits = np.array([[40.0, 0.0, -5.0], [0.0, 0.0, 0.0]])
    probs = softmax(logits, axis=1)
    phi = logit_confidence(probs, np.array([0, 1]))
    expected_confident = 40.0 - np.log(np.exp(0.0) + np.exp(-5.0))  # log p_0 - log(p_1 + p_2) from logits
    assert phi[0] == pytest.approx(expected_confident, rel=1e-9)
    assert phi[1] == pytest.approx(np.log(1 / 3) - np.log(2 / 3))


def test_complementary_masks_put_every_point_in_half_of_the_models():
    masks = complementary_in_masks(101, 8, np.random.default_rng(0))
    assert np.all(masks[0::2] ^ masks[1::2])
    assert set(masks.sum(axis=0)) == {4}


def test_lira_online_gaussian_scores_match_scipy(memorising_audit):
    calibration, outputs, _ = memorising_audit
    attack = ATTACKS["lira_online"](fixed_variance=False, min_std=0.0).fit(calibration)
    refs = calibration.references
    phi = logit_confidence(refs.audit, refs.labels)
    i = 7
    inside, outside = phi[refs.in_mask[:, i], i], phi[~refs.in_mask[:, i], i]
    target_phi = logit_confidence(outputs.probs, outputs.labels)[i]
    expected = stats.norm.logpdf(target_phi, inside.mean(), inside.std(ddof=1)) - stats.norm.logpdf(
        target_phi, outside.mean(), outside.std(ddof=1)
    )
    assert attack.score(outputs)[i] == pytest.approx(expected)


def test_fixed_variance_uses_the_spread_of_all_selected_values(memorising_audit):
    calibration, _, _ = memorising_audit
    refs = calibration.references
    attack = ATTACKS["lira_offline"](fixed_variance=True, min_std=0.0).fit(calibration)
    phi = logit_confidence(refs.audit, refs.labels)
    _, (_, std) = attack.state_
    assert std == pytest.approx(np.full(phi.shape[1], phi[~refs.in_mask].std()))


def _synthetic_references(
    n_models: int, spreads: np.ndarray, seed: int, in_shift: float = 1.0
) -> CalibrationData:
    """Binary outputs whose LiRA statistic is exactly a drawn ``phi``: point ``i`` has ``phi ~ N(1 +
    in_shift s_i, s_i)`` in a model trained on it and ``N(1, s_i)`` otherwise, ``s_i = spreads[i]``."""
    rng = np.random.default_rng(seed)
    n = len(spreads)
    in_mask = complementary_in_masks(n, n_models, rng)
    phi = 1.0 + spreads * (in_shift * in_mask + rng.standard_normal((n_models, n)))
    p_true = 1 / (1 + np.exp(-phi))  # log p_1 - log p_0 = phi for label 1
    audit = np.stack([1 - p_true, p_true], axis=-1)
    population = np.full((n_models, 1, 2), 0.5)
    return CalibrationData(
        references=ReferenceOutputs(audit, np.ones(n, dtype=int), in_mask, population, np.ones(1, dtype=int))
    )


def _pseudo_target_auc(calibration: CalibrationData, online: bool, global_spread: bool) -> float:
    """LiRA attacking reference 0 with the others, written out: per-point or pooled Gaussians of phi."""
    refs = calibration.references
    p = refs.audit[..., 1]
    phi = np.log(p) - np.log(1 - p)
    target, others, inside = phi[0], phi[1:], refs.in_mask[1:]

    def fit(selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = [others[selected[:, i], i] for i in range(phi.shape[1])]
        mean = np.array([v.mean() for v in values])
        if global_spread:  # the spread of all selected values around the pooled mean
            return mean, np.full_like(mean, others[selected].std())
        return mean, np.maximum([v.std(ddof=1) for v in values], 1e-2)

    mean_out, std_out = fit(~inside)
    if online:
        mean_in, std_in = fit(inside)
        scores = stats.norm.logpdf(target, mean_in, std_in) - stats.norm.logpdf(target, mean_out, std_out)
    else:  # how unlikely so high a phi is without the point
        scores = -stats.norm.sf(target, mean_out, std_out)
    return roc_auc(scores, refs.in_mask[0], n_bootstrap=0).value


@pytest.mark.parametrize("name", ["lira_online", "lira_offline"])
@pytest.mark.parametrize(
    ("n_models", "spreads", "global_wins"),
    [
        # Many references and points whose spreads differ 50-fold: per-point spreads see which are tight.
        (32, np.geomspace(0.1, 5.0, 400), False),
        # Six references (two or three per side for each point) and one spread: per-point spreads are noise.
        (6, np.full(400, 1.0), True),
    ],
)
def test_lira_chooses_the_spread_that_attacks_reference_0_best(name, n_models, spreads, global_wins):
    calibration = _synthetic_references(n_models, spreads, seed=3)
    online = name == "lira_online"
    aucs = {fixed: _pseudo_target_auc(calibration, online, fixed) for fixed in (False, True)}
    assert (aucs[True] > aucs[False]) == global_wins, aucs  # the scenario favours the side it names
    attack = ATTACKS[name]().fit(calibration)
    side = {} if online else {"side": "published"}  # online LiRA's likelihood ratio learns no side
    assert attack.fixed_variance_ == global_wins and attack.chosen() == {"fixed_variance": global_wins} | side
    given = ATTACKS[name](fixed_variance=not global_wins).fit(calibration)
    assert given.fixed_variance_ == (not global_wins) and given.chosen() == side  # kept, not chosen


@pytest.mark.parametrize(
    ("name", "reads_reversed"), [("lira_offline", True), ("rmia", True), ("lira_online", False)]
)
def test_reference_attacks_read_a_reversed_signal_the_other_way(name, reads_reversed):
    """Models trained on a point give it a *lower* statistic (phi one spread below, as a defense could make
    it) in 16 references and in a target. Offline LiRA and RMIA, which ask how far *above* the OUT models the
    target lies, learn the reversed side on their pseudo-targets and then separate the target's members as
    well as with a published shift; online LiRA, a likelihood ratio of the IN and OUT fits, learns no side and
    needs none."""
    rng = np.random.default_rng(11)
    is_member = rng.random(400) < 0.5
    target_population = AttackInput(np.full((1, 2), 0.5), np.ones(1, dtype=int))
    aucs, sides = {}, {}
    for in_shift in (-1.0, 1.0):
        phi = 1.0 + in_shift * is_member + rng.standard_normal(400)
        p_true = 1 / (1 + np.exp(-phi))
        target = AttackInput(np.column_stack([1 - p_true, p_true]), np.ones(400, dtype=int))
        calibration = replace(
            _synthetic_references(16, np.ones(400), seed=5, in_shift=in_shift),
            target_population=target_population,
        )
        attack = ATTACKS[name]().fit(calibration)
        aucs[in_shift] = roc_auc(attack.score(target), is_member, n_bootstrap=0).value
        sides[in_shift] = attack.chosen().get("side")
    expected = {-1.0: "reversed", 1.0: "published"} if reads_reversed else {-1.0: None, 1.0: None}
    assert sides == expected
    # Each setting's AUC is that of a unit shift between unit normals, 0.76, within 4 standard errors.
    assert aucs[-1.0] == pytest.approx(aucs[1.0], abs=0.1) and min(aucs.values()) > 0.65, aucs


def test_rmia_scores_label_only_outputs_without_nan(memorising_audit):
    """One-hot outputs (a label-only release) have exact zeros: RMIA's ratios must stay finite."""
    calibration, outputs, _ = memorising_audit

    def one_hot(probs: np.ndarray) -> np.ndarray:
        return np.eye(probs.shape[-1])[probs.argmax(axis=-1)]

    refs = calibration.references
    released = CalibrationData(
        references=ReferenceOutputs(
            one_hot(refs.audit), refs.labels, refs.in_mask, one_hot(refs.population), refs.population_labels
        ),
        target_population=AttackInput(one_hot(calibration.target_population.probs), refs.population_labels),
    )
    attack = ATTACKS["rmia"](a=1.0).fit(released)
    assert np.all(np.isfinite(attack.score(AttackInput(one_hot(outputs.probs), outputs.labels))))


@pytest.mark.parametrize("name", ["lira_online", "lira_offline"])
def test_with_four_references_lira_takes_one_spread_which_attacks_better(name):
    """Four references leave two on each side of a point, too few for its own spread: the attack takes the
    global one, given no choice. Simulated on fresh targets (20 seeds, 1,000 points whose spreads differ
    5-fold), the global spread attacks them at the higher mean AUC, by more than three standard errors of
    the paired differences. (With spreads 50-fold apart offline LiRA's two are within 0.01.)"""
    spreads = np.geomspace(0.5, 2.5, 1000)
    side = {} if name == "lira_online" else {"side": "published"}
    differences = []
    for seed in range(20):
        six = _synthetic_references(6, spreads, seed=seed).references
        four = replace(six, audit=six.audit[:4], in_mask=six.in_mask[:4], population=six.population[:4])
        calibration = CalibrationData(references=four)
        assert ATTACKS[name]().fit(calibration).chosen() == {"fixed_variance": True} | side
        target = AttackInput(six.audit[4], six.labels)  # a fifth model, trained on its own half
        aucs = [
            roc_auc(
                ATTACKS[name](fixed_variance=fixed).fit(calibration).score(target),
                six.in_mask[4],
                n_bootstrap=0,
            ).value
            for fixed in (False, True)
        ]
        differences.append(aucs[1] - aucs[0])
    assert np.mean(differences) > 3 * np.std(differences, ddof=1) / np.sqrt(len(differences)), differences

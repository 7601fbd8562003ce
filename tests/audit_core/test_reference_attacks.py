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
    assert 0.0 <= attack.a_ <= 1.0
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
    attack = ATTACKS["lira_online"](min_std=0.0).fit(calibration)
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
    attack = ATTACKS["lira_offline"](fixed_variance=True, min_std=0.0)
    phi = logit_confidence(refs.audit, refs.labels)
    _, std = attack._fit_side(phi, ~refs.in_mask)
    assert std == pytest.approx(np.full(phi.shape[1], phi[~refs.in_mask].std()))


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

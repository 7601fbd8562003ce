"""The Attack contract, checked for every registered attack (as scikit-learn's ``parametrize_with_checks``).

Every attack gets one calibration holding all inputs any attack requires (shadow outputs with query access to
the shadow model, reference outputs, the target's population outputs with features) from tiny real models,
and is queried on the target's audit points (with query access to the target).
"""

import copy
import inspect
from dataclasses import fields, is_dataclass

import numpy as np
import pytest

from audit_core.attacks import ATTACKS, Attack, AttackInput, CalibrationData

NAMES = sorted(ATTACKS)


def _learned(obj: object) -> list[str]:
    """Names of the learned attributes: ending in ``_``, not dunders."""
    return sorted(name for name in vars(obj) if name.endswith("_") and not name.startswith("__"))


def _arrays(value: object) -> list[np.ndarray]:
    """Every array inside a (nested) dataclass of arrays, in field order."""
    if isinstance(value, np.ndarray):
        return [value]
    if is_dataclass(value):
        return [a for f in fields(value) for a in _arrays(getattr(value, f.name))]
    return []


@pytest.fixture(scope="module")
def audit(memorised, memorising_audit) -> tuple[CalibrationData, AttackInput]:
    """Calibration with every input an attack may require, and the target's outputs on the audit points."""
    references, outputs, _ = memorising_audit
    calibration = CalibrationData(
        shadow=memorised[0].shadow,
        references=references.references,
        target_population=references.target_population,
    )
    return calibration, outputs


def _fitted(name: str, calibration: CalibrationData) -> Attack:
    attack = ATTACKS[name]()
    assert attack.fit(calibration) is attack, "fit must return self"
    return attack


@pytest.mark.parametrize("name", NAMES)
def test_init_learns_nothing(audit, name):
    attack = ATTACKS[name]()
    assert _learned(attack) == [], "__init__ must store hyperparameters only"
    fitted = _fitted(name, audit[0])
    assert "threshold_" in _learned(fitted), "fit must set threshold_ on the instance"
    for learned in _learned(fitted):
        assert not hasattr(type(attack), learned), (
            f"class attribute {learned} makes an unfitted attack look fitted"
        )
        assert not hasattr(attack, learned)
    assert [n for n in dir(type(attack)) if n.endswith("_") and not n.startswith("__")] == []


@pytest.mark.parametrize("name", NAMES)
def test_scores_are_finite_floats_one_per_point(audit, name):
    calibration, outputs = audit
    scores = _fitted(name, calibration).score(outputs)
    assert isinstance(scores, np.ndarray) and scores.dtype.kind == "f"
    assert scores.shape == (len(outputs),)
    assert np.all(np.isfinite(scores))


@pytest.mark.parametrize("name", NAMES)
def test_refitting_on_the_same_calibration_gives_the_same_scores(audit, name):
    calibration, outputs = audit
    attack = _fitted(name, calibration)
    first, threshold = attack.score(outputs), attack.threshold_
    attack.fit(calibration)
    assert np.array_equal(attack.score(outputs), first) and attack.threshold_ == threshold
    assert np.array_equal(_fitted(name, calibration).score(outputs), first)


@pytest.mark.parametrize("name", NAMES)
def test_predict_is_the_score_at_the_threshold(audit, name):
    calibration, outputs = audit
    attack = _fitted(name, calibration)
    assert np.isfinite(attack.threshold_)
    assert np.array_equal(attack.predict(outputs), attack.score(outputs) >= attack.threshold_)


@pytest.mark.parametrize("name", NAMES)
def test_inputs_are_not_mutated(audit, name):
    calibration, outputs = audit
    before = copy.deepcopy(_arrays(calibration) + _arrays(outputs))
    attack = _fitted(name, calibration)
    attack.score(outputs)
    attack.predict(outputs)
    after = _arrays(calibration) + _arrays(outputs)
    # shadow 4, references 5, target population 3, queried 3 (probabilities, labels, features; is_member)
    assert len(after) == len(before) == 15
    for old, new in zip(before, after, strict=True):
        assert old.dtype == new.dtype and np.array_equal(old, new)


@pytest.mark.parametrize("name", NAMES)
def test_default_hyperparameters_pass_the_check_and_a_negative_number_fails_it_with_one_sentence(name):
    """Every attack's defaults pass ``check`` (the config's check calls it); each numeric hyperparameter set
    to -1 fails it with a sentence naming the parameter, or runs (a threshold of a fixed rule may be any
    number)."""
    ATTACKS[name]().check()
    defaults = inspect.signature(ATTACKS[name]).parameters.values()
    for parameter in defaults:
        if type(parameter.default) not in (int, float) or parameter.name == "seed":
            continue
        try:
            ATTACKS[name](**{parameter.name: -1}).check()
        except ValueError as error:
            assert str(error).startswith(f"{parameter.name} = -1; expected "), error
            assert str(error).count(".") == 1 and str(error).endswith(".")

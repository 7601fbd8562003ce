import pytest

from audit_core.stats.midput import midput

# The DynaNoise paper's CIFAR-10 table (notes, section 1): no defense vs DynaNoise, four attacks.
BEFORE = {"confidence": 0.6124, "loss": 0.6180, "shadow": 0.6387, "lira": 0.6097}
AFTER = {"confidence": 0.5014, "loss": 0.5219, "shadow": 0.5053, "lira": 0.5342}


def test_midput_on_the_papers_cifar10_numbers():
    score = midput(0.7875, 0.7807, BEFORE, AFTER)
    assert round(score.value, 4) == 0.0972
    assert score.accuracy_drop == pytest.approx(0.0068)
    assert round(score.put["confidence"], 4) == 0.1042  # Wizwand's "MIDPUT Confidence 0.1043", up to rounding
    assert round(score.put["lira"], 4) == 0.0687
    assert score.value == pytest.approx(sum(score.put.values()) / 4)


def test_midput_penalises_accuracy_loss_one_for_one():
    no_change = midput(0.9, 0.9, {"loss": 0.6}, {"loss": 0.6})
    costly = midput(0.9, 0.8, {"loss": 0.6}, {"loss": 0.6})
    assert no_change.value == 0 and costly.value == pytest.approx(-0.1)


def test_midput_needs_matching_attacks():
    with pytest.raises(ValueError, match="same, non-empty set"):
        midput(0.9, 0.9, {"loss": 0.6}, {"entropy": 0.5})

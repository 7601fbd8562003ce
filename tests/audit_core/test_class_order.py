"""The class-order check: targets whose outputs follow the labels are refused at most at ALPHA (simulated over
targets that learned nothing, learned a little, answer one rare class, or confuse classes), targets whose
outputs follow another order are refused, and the command line refuses one in a sentence before training."""

import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import binom

from audit_core.audit.class_order import ALPHA, best_matching, class_order_problem
from audit_core.audit.inputs import load_audit_data
from audit_core.audit.models import build_target
from audit_core.audit.signals import target_signals
from audit_core.config import parse_config
from audit_core.core.errors import DataError
from flows.cli import main
from tests.audit_core.byo import skops_on_tables

SIMULATIONS = 2000


def _answers(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Logits whose argmax is ``predicted``."""
    logits = np.zeros((len(labels), n_classes))
    logits[np.arange(len(labels)), predicted] = 1.0
    return logits


def _target(kind: str, n_classes: int, rng: np.random.Generator):
    """A target's answers to labels: ``predict(labels) -> predicted outputs``, its outputs in label order."""
    confused = rng.permutation(n_classes)  # the class each class is mistaken for, when it is

    def predict(labels: np.ndarray) -> np.ndarray:
        uniform = rng.integers(0, n_classes, len(labels))
        if kind == "learned nothing":
            return uniform
        if kind == "learned a little":
            return np.where(rng.random(len(labels)) < 0.3, labels, uniform)
        if kind == "answers one rare class":
            return np.full(len(labels), n_classes - 1)
        # confuses each class with one other, but is right more often than not
        return np.where(rng.random(len(labels)) < 0.55, labels, confused[labels])

    return predict


@pytest.mark.parametrize("n_classes", [2, 10])
@pytest.mark.parametrize(
    "kind", ["learned nothing", "learned a little", "answers one rare class", "confuses"]
)
@pytest.mark.parametrize("sizes", [(16, 32), (200, 400)], ids=["probe", "audit"])
def test_a_target_whose_outputs_follow_the_labels_is_refused_at_most_at_alpha(n_classes, kind, sizes):
    rng = np.random.default_rng(zlib.crc32(f"{n_classes} {kind} {sizes}".encode()))
    refused = 0
    for _ in range(SIMULATIONS):
        predict = _target(kind, n_classes, rng)
        weights = rng.dirichlet(np.ones(n_classes))  # class frequencies differ from run to run
        members, tested = (rng.choice(n_classes, size, p=weights) for size in sizes)
        refused += (
            class_order_problem(
                (members, _answers(members, predict(members), n_classes)),
                (tested, _answers(tested, predict(tested), n_classes)),
                "records",
            )
            is not None
        )
    # the count a level-ALPHA test exceeds with probability 1e-6 over the simulations
    assert refused <= binom.ppf(1 - 1e-6, SIMULATIONS, ALPHA), refused


@pytest.mark.parametrize(("n_classes", "accuracy", "sizes"), [(10, 0.9, (16, 32)), (3, 0.8, (60, 150))])
def test_a_target_whose_outputs_follow_another_order_is_refused(n_classes, accuracy, sizes):
    """At the input check's probe (16 members, 32 records tested) and at a small audit's size."""
    rng = np.random.default_rng(1)
    refused = 0
    for _ in range(200):
        order = rng.permutation(n_classes)  # output order[c] answers class c
        while (order == np.arange(n_classes)).all():
            order = rng.permutation(n_classes)
        parts = []
        for size in sizes:
            labels = rng.integers(0, n_classes, size)
            right = rng.random(size) < accuracy
            predicted = np.where(right, order[labels], rng.integers(0, n_classes, size))
            parts.append((labels, _answers(labels, predicted, n_classes)))
        problem = class_order_problem(*parts, "records")
        refused += problem is not None
    assert refused >= 0.95 * 200, refused


def test_the_matching_is_the_permutation_the_answers_follow():
    labels = np.repeat(np.arange(4), 5)
    order = np.array([2, 0, 3, 1])
    np.testing.assert_array_equal(best_matching(labels, order[labels], 4), order)


def test_the_command_line_refuses_such_a_target_in_one_sentence_before_training_anything(tmp_path, capsys):
    """A logistic regression trained on labels moved by one (3 classes, about 0.8 accurate): the input check
    refuses it on its probe (16 records spread over each part) before Prefect starts, exit 2, one sentence,
    nothing written; the audit's own query of every record refuses it too."""
    config = skops_on_tables(tmp_path, "shifted", fit_labels=lambda y: (y + 1) % 3)
    Path(tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    code = main(["audit", str(tmp_path / "audit.yaml")])
    stderr = capsys.readouterr().err
    assert code == 2, stderr
    assert stderr.startswith(
        "dynaudit: The target's outputs follow another class order than the data's labels: on 32 non-member "
        "and test records"
    )
    assert (
        "(class 0 answered as output 1, class 1 answered as output 2, class 2 answered as output 0)" in stderr
    )
    assert stderr.count("\n") == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()
    audit = parse_config(config)
    data = load_audit_data(audit)
    with pytest.raises(DataError, match="on 150 non-member and test records it is right on 18% as labelled"):
        target_signals(build_target(audit, data), data)

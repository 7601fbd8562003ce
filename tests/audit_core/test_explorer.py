"""The report explorer's grid: its numbers against a plain per-point computation, and nothing per record."""

import json

import numpy as np
import pytest
from scipy.special import log_softmax
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from audit_core.core.record_ids import RecordKey
from audit_core.defenses import PAPER_SETTING, DynaNoise
from audit_core.report.explorer import PARAMS, STEPS, explorer_payload, grid_axes, grid_metrics

RANGES = {"sigma0_sq": (0.0, 1.0), "lam": (0.0, 6.0), "temperature": (1.0, 20.0)}
CHOSEN = DynaNoise(sigma0_sq=0.37, lam=1.85, temperature=7.3)


@pytest.fixture(scope="module")
def logits():
    """A real logistic regression's logits: trained on 150 digits (the members), 150 others held out, 200
    test records."""
    x, y = load_digits(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(x[:150], y[:150])
    audit = np.arange(300)
    return {
        "audit_logits": model.decision_function(x[audit]),
        "labels": y[audit],
        "is_member": audit < 150,
        "test_logits": model.decision_function(x[300:500]),
        "test_labels": y[300:500],
    }


def test_each_grid_point_matches_a_plain_computation_with_the_same_noise(logits):
    axes = {"sigma0_sq": [0.0, 0.4], "lam": [0.0, 3.0], "temperature": [0.5, 10.0]}
    noise = np.random.default_rng(3).standard_normal((4, 500, 10))
    grid = grid_metrics(**logits, axes=axes, noise=noise)
    audit, test = logits["audit_logits"], logits["test_logits"]
    for i, j, t in np.ndindex(2, 2, 2):
        s0, lam, temp = axes["sigma0_sq"][i], axes["lam"][j], axes["temperature"][t]
        accuracy, loss, confidence = [], [], []
        for draw in noise:
            noisy = []
            for z, eps in zip(np.vstack([audit, test]), draw, strict=True):  # record by record
                p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
                r = 1 + (p * np.log(p + 1e-9)).sum() / np.log(10 + 1e-9)
                noisy.append(z + np.sqrt(s0 * (1 + lam * r)) * eps)
            noisy = np.array(noisy)
            accuracy.append(np.mean(noisy[300:].argmax(axis=1) == logits["test_labels"]))
            log_p = log_softmax(noisy[:300] / temp, axis=1)
            loss.append(roc_auc_score(logits["is_member"], log_p[np.arange(300), logits["labels"]]))
            confidence.append(roc_auc_score(logits["is_member"], log_p.max(axis=1)))
        assert grid["accuracy"][i, j, t] == pytest.approx(np.mean(accuracy), abs=1e-12)
        assert grid["auc_loss"][i, j, t] == pytest.approx(np.mean(loss), abs=1e-12)
        assert grid["auc_confidence"][i, j, t] == pytest.approx(np.mean(confidence), abs=1e-12)


@pytest.fixture(scope="module")
def payload(logits):
    return explorer_payload(**logits, defense=CHOSEN, ranges=RANGES, budget=0.03, seed=7)


def test_the_grid_spans_the_ranges_and_holds_the_chosen_and_paper_points_exactly(payload):
    for p in PARAMS:
        axis = payload["axes"][p]
        assert axis == sorted(axis) and axis[0] == RANGES[p][0] and axis[-1] == RANGES[p][1]
        assert (
            axis[payload["chosen"][p]] == getattr(CHOSEN, p) and axis[payload["paper"][p]] == PAPER_SETTING[p]
        )
    shape = tuple(len(payload["axes"][p]) for p in PARAMS)
    at = np.ravel_multi_index([payload["chosen"][p] for p in PARAMS], shape)
    for name in ("accuracy", "auc_loss", "auc_confidence"):
        assert len(payload[name]) == np.prod(shape)
        assert payload["reference"][name] == payload[name][at]
    # no noise: accuracy is the undefended one, at every T
    assert payload["accuracy"][: shape[2]] == [payload["undefended_accuracy"]] * shape[2]


def test_an_attacker_with_the_model_and_the_records_finds_nothing_per_record_in_the_payload(logits, payload):
    assert_nothing_per_record(payload, np.vstack([logits["audit_logits"], logits["test_logits"]]))


def test_the_explorer_seed_is_the_keys_alone_and_no_record_hash():
    key = RecordKey(b"a secret of sixteen bytes", "id_salt")
    assert key.seed("explorer") == RecordKey(b"a secret of sixteen bytes", "id_salt").seed("explorer")
    assert key.seed("explorer") != RecordKey(b"another secret of its own", "id_salt").seed("explorer")
    assert f"{key.seed('explorer'):016x}" != key.hash(np.array(["explorer"]))[0]  # a record named "explorer"


def assert_nothing_per_record(payload: dict, record_logits: np.ndarray) -> None:
    """No vector in ``payload`` is a record's logits or probabilities (rounded to 1-6 decimals), no key names
    a member flag, a label, logits or an id, and no list is as long as a per-record column would be."""
    text = json.dumps(payload)
    for word in ('member"', "label", "logit", '"id', "record"):
        assert word not in text, word
    vectors = []

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            if node and all(isinstance(v, int | float) for v in node):
                vectors.append(np.asarray(node, dtype=float))
            for value in node:
                walk(value)

    walk(payload)
    probs = np.exp(record_logits - record_logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    k = record_logits.shape[1]
    rounded = {
        tuple(row)
        for rows in (record_logits, probs)
        for d in range(1, 7)
        for row in np.round(rows, d).tolist()
    }
    for vector in vectors:
        assert len(vector) not in (
            len(record_logits),
            *payload["sample"].values(),
            sum(payload["sample"].values()),
        )
        windows = (
            np.lib.stride_tricks.sliding_window_view(vector, k) if len(vector) >= k else np.empty((0, k))
        )
        assert not any(tuple(window) in rounded for window in windows.tolist())


def test_an_axis_over_a_range_narrower_than_one_keeps_its_steps_apart():
    narrow = grid_axes({**RANGES, "sigma0_sq": (0.0, 5e-6)})["sigma0_sq"]
    # to 6 decimals, the steps of 5e-06 / 7 had fallen together as 0, 1e-06, 1e-06, 2e-06, ...
    assert len(narrow) == STEPS and np.allclose(narrow, np.linspace(0.0, 5e-6, STEPS), rtol=1e-5, atol=0)
    assert grid_axes(RANGES) == {p: np.linspace(*RANGES[p], STEPS).round(6).tolist() for p in PARAMS}

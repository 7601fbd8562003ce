"""What models return: networks that end in a softmax return probabilities (declared as logits they are
refused; declared as probabilities, the shadow and reference models of their kind train on the
log-likelihood and answer as the target does), and binary classifiers may return one score per record."""

from functools import partial
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from scipy import special

from audit_core.audit.inputs import check_inputs
from audit_core.config import TrainingRecipe, parse_config
from audit_core.core.errors import TargetError
from audit_core.core.probability import PROBABILITY_FLOOR, probability_logits
from audit_core.targets import TorchTarget, as_logits, open_target
from audit_core.targets.base import LOOKALIKE_ROWS
from audit_core.training import train_classifier
from audit_core.training.cache import ModelCache
from audit_core.training.kinds import ArchitectureModels, FunctionModels
from tests.audit_core import models
from tests.audit_core.byo import (
    N_CLASSES,
    N_FEATURES,
    RECIPE,
    blobs,
    chosen_models,
    config,
    tabular_parts,
    write_tables,
)

SEED = 5
# A network and its softmax twin trained alike differ only by float32 rounding (log of a softmax against
# log_softmax), which 60 epochs of Adam carry into the answers at around 1e-5; the wrong loss moves them by
# whole units (measured below in the same test).
TWIN_TOLERANCE = 1e-3


def _architecture(name: str, output: str) -> ArchitectureModels:
    return ArchitectureModels(
        TrainingRecipe(**RECIPE),
        N_CLASSES,
        N_FEATURES,
        architecture=f"tests.audit_core.models:{name}",
        kwargs={"n_features": N_FEATURES, "n_classes": N_CLASSES},
        output=output,
    )


def _trained_logits(kind: ArchitectureModels) -> np.ndarray:
    """The logits (as the audit reads them) of one model of ``kind`` trained on the population, on the
    test records."""
    x, y, _ = tabular_parts()["population"]
    (state,) = kind.train([(x, y)], [SEED])
    return kind.store(ModelCache(None), "unused", state).logits(tabular_parts()["test"][0])


def test_a_softmax_architecture_trains_and_answers_as_its_logit_twin():
    twin_log_probabilities = special.log_softmax(_trained_logits(_architecture("mlp", "logits")), axis=1)
    twin = np.maximum(twin_log_probabilities, np.log(PROBABILITY_FLOOR))  # as probabilities are read
    softmax = _trained_logits(_architecture("softmax_mlp", "probabilities"))
    assert np.abs(softmax - twin).max() < TWIN_TOLERANCE
    # What it did before: cross-entropy on the probabilities (a second softmax), read back as logits.
    x, y, _ = tabular_parts()["population"]
    build = lambda: models.softmax_mlp(N_FEATURES, N_CLASSES)  # noqa: E731
    wrong = train_classifier(x, y, N_CLASSES, TrainingRecipe(**RECIPE), seed=SEED, build=build)
    with torch.no_grad():
        wrong_answers = wrong(torch.as_tensor(tabular_parts()["test"][0])).double().numpy()
    wrong_logits = probability_logits(wrong_answers)  # as the audit reads them
    assert np.abs(wrong_logits - twin).max() > 100 * TWIN_TOLERANCE


def test_a_batch_norm_network_trains_when_an_epochs_last_batch_holds_one_record():
    """33 records in batches of 32: batch norm cannot train on the last one alone (torch raises), so each
    epoch leaves it out, another record each time; the network trains and learns its records."""
    x, y = blobs(33, seed=4)
    recipe = TrainingRecipe(epochs=60, batch_size=32, learning_rate=0.01)
    build = partial(models.batch_norm_mlp, N_FEATURES, N_CLASSES)
    model = train_classifier(x, y, N_CLASSES, recipe, seed=0, build=build)
    with torch.no_grad():
        assert (model(torch.as_tensor(x)).argmax(1).numpy() == y).mean() > 0.9


def test_models_answering_probabilities_have_their_own_cache_key_and_logits_keep_theirs():
    logits, probabilities = _architecture("mlp", "logits"), _architecture("mlp", "probabilities")
    assert probabilities.key() != logits.key()
    assert "output" not in logits.key()  # models cached before outputs were declared are still found


def test_a_training_function_returning_probabilities_answers_as_the_target_declares():
    x, y, _ = tabular_parts()["population"]
    test = tabular_parts()["test"][0]
    function = "tests.audit_core.models:train_softmax_mlp"
    (model,) = FunctionModels(function, N_CLASSES).train([(x, y)], [SEED])
    with torch.no_grad():
        probabilities = model(torch.as_tensor(test)).double().numpy()
    answering = FunctionModels(function, N_CLASSES, output="probabilities").queryable(model)
    np.testing.assert_array_equal(answering.logits(test), np.log(probabilities))
    with pytest.raises(TargetError, match="returned probabilities where logits were expected"):
        FunctionModels(function, N_CLASSES).queryable(model).logits(test)


def test_a_few_rows_that_happen_to_look_like_probabilities_are_not_refused():
    """Fewer rows than the refusal needs: one logit row may lie in [0, 1] and sum to 1 by chance."""
    module = torch.nn.Sequential(torch.nn.Linear(N_FEATURES, N_CLASSES), torch.nn.Softmax(dim=1))
    few = tabular_parts()["test"][0][: LOOKALIKE_ROWS - 1]
    np.testing.assert_array_equal(
        TorchTarget(module).logits(few), module(torch.as_tensor(few)).detach().double().numpy()
    )


def _binary_scores(n: int = 40) -> np.ndarray:
    return np.random.default_rng(0).normal(0, 3, n)


@pytest.mark.parametrize("shape", [(-1,), (-1, 1)])
def test_one_logit_per_record_is_read_as_the_two_columns_of_the_same_softmax(shape):
    z = _binary_scores()
    logits = as_logits(z.reshape(shape), "logits", "model")
    np.testing.assert_allclose(special.softmax(logits, axis=1)[:, 1], special.expit(z), rtol=1e-12)
    probabilities = as_logits(special.expit(z).reshape(shape), "probabilities", "model")
    np.testing.assert_allclose(np.exp(probabilities), special.softmax(logits, axis=1), rtol=1e-12, atol=1e-12)


def test_a_sigmoid_left_at_the_end_of_a_binary_network_is_refused_as_logits():
    with pytest.raises(TargetError, match=r"all 40 scores lie in \[0, 1\]\); set output: probabilities"):
        as_logits(special.expit(_binary_scores()), "logits", "model")
    with pytest.raises(TargetError, match=r"values outside \[0, 1\] \(-"):
        as_logits(_binary_scores(), "probabilities", "model")


def test_float32_probabilities_a_rounding_past_one_are_read_as_they_are():
    """A converted forest's float32 probabilities reach 1.0000001 (one unit in the last place above 1): read
    as probabilities, their logarithm unclipped (the deployed defense takes the same), as is a half-precision
    softmax's 1.0005; 1.01 is refused, as are outputs declared as logits that are such probabilities."""
    above = np.nextafter(np.float32(1), np.float32(2))
    rows = np.array([[above, 0, 0], [0.25, 0.25, 0.5]] * LOOKALIKE_ROWS, dtype=np.float32)
    np.testing.assert_array_equal(as_logits(rows, "probabilities", "model"), probability_logits(rows))
    assert as_logits(rows, "probabilities", "model")[0, 0] == np.log(np.float64(above)) > 0
    as_logits(np.array([[1.0005, 0.0], [0.5, 0.5]]), "probabilities", "model")
    with pytest.raises(TargetError, match=r"values outside \[0, 1\] \(0 to 1.01\)"):
        as_logits(np.array([[1.01, 0.0], [0.5, 0.5]]), "probabilities", "model")
    with pytest.raises(TargetError, match=r"returned probabilities where logits were expected"):
        as_logits(rows, "logits", "model")


def _classifier_onnx(path: Path, outputs: tuple[str, ...]) -> np.ndarray:
    """An ONNX classifier shaped as scikit-learn's converter writes one: ``label`` (int64, the predicted
    class) and ``probabilities`` (a softmax of fixed logits), in the order given; returns its weights."""
    weights = np.random.default_rng(1).normal(size=(N_FEATURES, N_CLASSES)).astype(np.float32)
    nodes = [
        onnx.helper.make_node("MatMul", ["x", "w"], ["logits"]),
        onnx.helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        onnx.helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
    ]
    kinds = {"label": onnx.TensorProto.INT64, "probabilities": onnx.TensorProto.FLOAT}
    graph = onnx.helper.make_graph(
        nodes,
        "classifier",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, N_FEATURES])],
        [onnx.helper.make_tensor_value_info(name, kinds[name], None) for name in outputs],
        [onnx.numpy_helper.from_array(weights, "w")],
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 13)])
    onnx.save(model, path)
    return weights


def _onnx_target(path: Path, **fields):
    section = {"kind": "onnx", "path": str(path), **fields}
    return open_target(parse_config({"target": section, **chosen_models({"target": section})}).target)


def test_an_onnx_classifier_is_read_from_its_first_float_output_not_its_labels(tmp_path):
    weights = _classifier_onnx(tmp_path / "m.onnx", ("label", "probabilities"))
    records = tabular_parts()["test"][0]
    logits = _onnx_target(tmp_path / "m.onnx", output="probabilities").logits(records)
    expected = special.log_softmax(records.astype(np.float32) @ weights, axis=1)
    np.testing.assert_allclose(logits, expected, atol=1e-5)


def test_an_onnx_output_without_per_class_scores_is_refused_in_one_sentence(tmp_path):
    _classifier_onnx(tmp_path / "m.onnx", ("label", "probabilities"))
    with pytest.raises(TargetError, match=r"output .label. of .* holds tensor\(int64\), not per-class"):
        _onnx_target(tmp_path / "m.onnx", output_name="label")
    _classifier_onnx(tmp_path / "labels.onnx", ("label",))
    with pytest.raises(TargetError, match="has no float output to read per-class scores from"):
        _onnx_target(tmp_path / "labels.onnx")


def test_an_onnx_model_with_two_inputs_is_refused_in_one_sentence(tmp_path):
    """A text model exported with its attention mask as a second input: the records can feed only one, and
    guessing the other (all ones) would attend padding the model never saw."""
    tensor = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Mul", ["input_ids", "attention_mask"], ["logits"])],
        "two_inputs",
        [tensor(name, onnx.TensorProto.FLOAT, [None, 3]) for name in ("input_ids", "attention_mask")],
        [tensor("logits", onnx.TensorProto.FLOAT, None)],
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 13)])
    onnx.save(model, tmp_path / "two.onnx")
    with pytest.raises(TargetError, match=r"takes 2 inputs \(input_ids, attention_mask\); expected one"):
        _onnx_target(tmp_path / "two.onnx")


def test_a_training_function_answers_as_the_target_unless_its_own_output_says_otherwise(tmp_path):
    """A target served with a softmax (``output: probabilities``) whose training code returns the bare
    network: its models are read as probabilities, refused, until the function's section says logits."""
    target = {
        "kind": "callable",
        "function": "tests.audit_core.models:softmax_scores",
        "output": "probabilities",
    }
    references = {"kind": "function", "function": "tests.audit_core.models:train_torch_mlp"}
    data = {"kind": "table", "id": "id", **write_tables(tmp_path, ".parquet")}
    fields = {"data": data, "target": target, "shadow": {"kind": "none"}}
    with pytest.raises(TargetError, match=r"returned values outside \[0, 1\].*expected probabilities"):
        check_inputs(config(tmp_path, **fields, references=references))
    check_inputs(config(tmp_path, **fields, references={**references, "output": "logits"}))

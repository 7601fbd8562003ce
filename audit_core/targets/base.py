"""The Target contract, and the base of every model adapter: records in batches -> float64 logits."""

import hashlib
from abc import ABC, abstractmethod
from typing import Protocol

import numpy as np

from audit_core.core.errors import TargetError, brief
from audit_core.core.probability import OutputKind, probability_logits
from audit_core.core.user_code import UserCodeError, call_user_code, user_records
from audit_core.data import Split

#: How far a probability may fall outside [0, 1], and a row's sum miss 1: the rounding of float32 and
#: half-precision outputs (a converted forest's 1.0000001, a half-precision softmax's sums).
PROBABILITY_TOLERANCE = 1e-3
#: Rows of probability vectors that tell outputs declared as logits are probabilities: one logit row may lie
#: in [0, 1] and sum to 1 by chance, so many rows, all of them, do not.
LOOKALIKE_ROWS = 8


class Target(Protocol):
    """Anything that returns logits ``(n, k)`` for audit records and can fingerprint itself."""

    def query(self, records: Split) -> np.ndarray:
        """Float64 logits, one row per record."""
        ...

    def fingerprint(self) -> str:
        """A SHA-256 hex digest identifying the model (or its predictions) exactly."""
        ...

    def covers(self, records: Split) -> bool:
        """Whether :meth:`query` can answer for every one of ``records``."""
        ...


def probabilities_range(values: np.ndarray) -> np.ndarray:
    """Whether each of ``values`` is a probability: in [0, 1] within ``PROBABILITY_TOLERANCE``."""
    return (values >= -PROBABILITY_TOLERANCE) & (values <= 1 + PROBABILITY_TOLERANCE)


def probability_rows(values: np.ndarray) -> np.ndarray:
    """Whether each row of ``values`` ``(n, k)`` is a probability vector: entries in [0, 1], summing to 1,
    each within ``PROBABILITY_TOLERANCE``."""
    inside = probabilities_range(values).all(axis=1)
    return inside & (np.abs(values.sum(axis=1) - 1) <= PROBABILITY_TOLERANCE)


def _look_like_probabilities(values: np.ndarray) -> bool:
    """Whether outputs declared as logits are probabilities: ``LOOKALIKE_ROWS`` or more rows, every one a
    probability vector (a single score: in [0, 1], where logits of a model that predicts both classes are
    not)."""
    if len(values) < LOOKALIKE_ROWS or not probabilities_range(np.array([values.min(), values.max()])).all():
        return False  # logits: one pass
    return values.shape[1] == 1 or bool(probability_rows(values).all())


def _both_classes(scores: np.ndarray, output: OutputKind) -> np.ndarray:
    """A binary classifier's single score per record (class 1's logit or probability) as the two columns of
    the same softmax: ``[0, z]`` or ``[1 - p, p]``."""
    return np.hstack([np.zeros_like(scores) if output == "logits" else 1 - scores, scores])


def as_logits(outputs: np.ndarray, output: OutputKind, source: str, *, configured: bool = True) -> np.ndarray:
    """Model outputs as float64 logits; probabilities become ``log(max(p, 1e-12))`` after a sanity check.
    One score per record (shape ``(n,)`` or ``(n, 1)``: a binary classifier's logit or probability of class
    1) becomes two columns. Outputs declared as logits are refused when they are all probabilities
    (:func:`_look_like_probabilities`): a softmax or sigmoid left at the end of a network would otherwise be
    audited, and noised, as logits. ``configured``: the sentences name the ``output:`` setting (a
    scikit-learn model's ``predict_proba`` has none).

    >>> as_logits(np.array([[0.5, 0.5]]), "probabilities", "model").round(3).tolist()
    [[-0.693, -0.693]]
    >>> as_logits(np.array([2.0]), "logits", "model").tolist()
    [[0.0, 2.0]]
    """
    values = np.asarray(outputs, dtype=np.float64)
    values = values[:, None] if values.ndim == 1 else values
    if values.ndim != 2:
        raise TargetError(f"{source} returned outputs of shape {values.shape}; expected (records, classes).")
    if output == "logits":
        if _look_like_probabilities(values):
            seen = "scores lie in [0, 1]" if values.shape[1] == 1 else "rows lie in [0, 1] and sum to 1"
            last = "sigmoid" if values.shape[1] == 1 else "softmax"
            raise TargetError(
                f"{source} returned probabilities where logits were expected (all {len(values)} {seen}); set "
                f"output: probabilities, or return the logits before the {last}."
            )
        return _both_classes(values, output) if values.shape[1] == 1 else values
    expected = "expected probabilities, or set output: logits" if configured else "expected probabilities"
    if values.size and not probabilities_range(values).all():
        raise TargetError(
            f"{source} returned values outside [0, 1] ({np.nanmin(values):.3g} to {np.nanmax(values):.3g}); "
            f"{expected}."
        )
    values = _both_classes(values, output) if values.shape[1] == 1 else values
    sums = values.sum(axis=1)
    if values.size and not probability_rows(values).all():
        raise TargetError(
            f"{source} returned rows that do not sum to 1 (sums {np.nanmin(sums):.3g} to "
            f"{np.nanmax(sums):.3g}); {expected}."
        )
    return probability_logits(values)


def combined_digest(*parts: str | bytes) -> str:
    """SHA-256 over several strings or byte strings, each length-prefixed so their boundaries count."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


class ModelTarget(ABC):
    """A model queried on records' features in batches. Subclasses implement :meth:`predict`.

    ``source`` names the model in error messages (e.g. ``target.path 'model.onnx'``); ``input_shape`` is
    the record shape the model expects, when it declares one; ``output`` says what :meth:`predict` returns;
    ``timeout_s`` bounds one call of :meth:`predict` (``target.timeout_s``; ``None``: unbounded, for models
    dynaudit trains itself).
    """

    timeout_s: float | None = None
    #: Whether :meth:`predict` runs the user's code, which receives float records as float32
    #: (:func:`~audit_core.core.user_code.user_records`); models dynaudit loads get the records as the data
    #: hold them, so a model is asked about exactly the records it was trained on.
    user_code: bool = False
    #: Whether the model takes whole numbers (token ids, category codes): records the label-only query
    #: attacks cannot move by small amounts.
    integer_inputs: bool = False
    #: Whether the config says what the model returns (``output:``); a scikit-learn model says it itself.
    output_configured: bool = True

    def __init__(
        self,
        *,
        source: str,
        digest: str,
        output: OutputKind = "logits",
        batch_size: int = 1024,
        input_shape: tuple[int, ...] | None = None,
    ) -> None:
        self.source = source
        self.digest = digest
        self.output = output
        self.batch_size = batch_size
        self.input_shape = input_shape

    @abstractmethod
    def predict(self, batch: np.ndarray) -> np.ndarray:
        """The model's raw outputs ``(len(batch), k)``: logits or probabilities, as ``output`` says."""

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Float64 logits per record of ``features``; the model's errors become :class:`TargetError`."""
        if self.input_shape is not None and features.shape[1:] != self.input_shape:
            raise TargetError(
                f"{self.source} expects records of shape {self.input_shape} but the data's records have "
                f"shape {features.shape[1:]}; expected the features the model was trained on."
            )
        if self.integer_inputs and features.dtype.kind == "f":
            fractional = features[features != np.round(features)]  # NaN included
            if fractional.size:
                raise TargetError(
                    f"{self.source} takes integer inputs, but a record holds {fractional[0]:g}; expected "
                    "whole numbers such as token ids or category codes."
                )
        chunks = []
        for start in range(0, len(features), self.batch_size):
            batch = features[start : start + self.batch_size]
            if self.user_code:
                batch = user_records(batch)
            try:
                chunks.append(call_user_code(self._answer, batch, timeout_s=self.timeout_s))
            except UserCodeError as failure:  # the user's model failed on the user's data, or hung
                raise TargetError(self._failure(failure.cause, batch)) from None
        widths = sorted({chunk.shape[1] if chunk.ndim == 2 else -1 for chunk in chunks})
        if len(widths) > 1:
            raise TargetError(
                f"{self.source} returned {widths[-1]} columns for some batches of one query and {widths[0]} "
                "for others; expected the same classes for every record."
            )
        return as_logits(np.concatenate(chunks), self.output, self.source, configured=self.output_configured)

    def _answer(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.predict(batch), dtype=np.float64)

    def _failure(self, cause: BaseException, batch: np.ndarray) -> str:
        if isinstance(cause, TimeoutError):
            return (
                f"{self.source} gave no answer for {len(batch)} records within target.timeout_s = "
                f"{self.timeout_s:g} s; expected a model that answers (or raise target.timeout_s)."
            )
        return (
            f"{self.source} raised {type(cause).__name__} on records of shape {batch.shape[1:]} "
            f"({brief(cause, records=batch)}); {self._advice(cause, batch)}."
        )

    def _advice(self, cause: BaseException, batch: np.ndarray) -> str:
        """What to do about the model's failure ``cause`` on ``batch``."""
        if batch.dtype.kind == "f" and bool(np.isnan(batch).any()):
            return (
                "the records have missing values (NaN), which this model does not take: impute them as its "
                "training data were"
            )
        return "expected records the model accepts (check the data's features)"

    def query(self, records: Split) -> np.ndarray:
        return self.logits(records.features)

    def covers(self, records: Split) -> bool:
        return True  # a model answers for any record

    def fingerprint(self) -> str:
        return self.digest

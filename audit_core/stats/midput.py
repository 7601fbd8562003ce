"""MIDPUT: the DynaNoise paper's privacy-utility score (notes, section 1).

``PUT_a = (ASR_a undefended - ASR_a defended) - (accuracy undefended - accuracy defended)`` per attack ``a``,
and ``MIDPUT = mean_a PUT_a``. ASR is an attack's balanced accuracy; the accuracy drop is absolute.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

#: An accuracy drop is the difference of two shares of one test set, so a drop of exactly the budget (6 of
#: 300 answers lost: 0.02) reads 0.020000000000000018 after float subtraction; a drop this close is within.
BUDGET_SLACK = 1e-9


def within_budget(drop: float | np.ndarray, budget: float) -> bool | np.ndarray:
    """Whether an accuracy ``drop`` (or each of an array of them) is at most ``budget``, up to float
    rounding.

    >>> bool(within_budget(191 / 300 - 185 / 300, 0.02)), bool(within_budget(191 / 300 - 184 / 300, 0.02))
    (True, False)
    """
    return drop <= budget + BUDGET_SLACK


@dataclass(frozen=True)
class Midput:
    """MIDPUT with its parts: the accuracy drop, and per attack the ASR reduction and PUT."""

    accuracy_drop: float
    asr_reduction: dict[str, float]
    put: dict[str, float]
    value: float


def midput(
    accuracy_undefended: float,
    accuracy_defended: float,
    asr_undefended: Mapping[str, float],
    asr_defended: Mapping[str, float],
) -> Midput:
    """MIDPUT over the attacks present in both mappings.

    >>> round(midput(0.8, 0.79, {"loss": 0.62}, {"loss": 0.52}).value, 4)
    0.09
    """
    if set(asr_undefended) != set(asr_defended) or not asr_undefended:
        raise ValueError("MIDPUT needs the same, non-empty set of attacks before and after the defense.")
    drop = accuracy_undefended - accuracy_defended
    reduction = {a: asr_undefended[a] - asr_defended[a] for a in asr_undefended}
    put = {a: r - drop for a, r in reduction.items()}
    return Midput(drop, reduction, put, sum(put.values()) / len(put))

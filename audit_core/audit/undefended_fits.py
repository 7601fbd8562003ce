"""Attacks calibrated on undefended outputs, fitted once per set of signals.

The naive attacker (and any attacker of the undefended condition) calibrates on the shadow and reference
models' undefended outputs, and queries the shadow models without a defense: its calibration data is the same
whatever the condition, and draws nothing from the attacker's generator. An attack that needs nothing of the
condition's own answers (not the target's population answers) is therefore fitted identically in every
condition; :class:`UndefendedFits` fits it once per :class:`~audit_core.audit.signals.Signals` object and
hands the same fitted attack to every condition (attacks' ``score`` does not change their fitted state).
"""

import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from audit_core.audit.signals import Signals

T = TypeVar("T")

#: Calibration inputs that come from the condition's own answers: an attack requiring one is fitted anew.
CONDITION_INPUTS = frozenset({"target_population", "population_features"})


class UndefendedFits:
    """Fitted attacks (or what else is computed once per set of signals) per live ``Signals`` object (held
    while it lives, dropped with it) and per attack."""

    def __init__(self) -> None:
        self._fits: dict[int, tuple[weakref.ref[Signals], dict[str, Any]]] = {}
        self._lock = threading.RLock()  # a dropped Signals' callback may run while it is held

    def __len__(self) -> int:
        return sum(len(fits) for _, fits in self._fits.values())

    def fitted(self, signals: Signals, attack: str, fit: Callable[[], T]) -> T:
        """The attack fitted on ``signals``' undefended calibration: ``fit()`` the first time, then the same
        object. ``attack`` names the attack and its parameters."""
        with self._lock:
            entry = self._fits.get(id(signals))
            if entry is None or entry[0]() is not signals:
                forget = self._forget(id(signals))
                entry = self._fits[id(signals)] = (weakref.ref(signals, forget), {})
            fitted = entry[1].get(attack)
        if fitted is None:
            fitted = fit()
            with self._lock:
                fitted = entry[1].setdefault(attack, fitted)
        return fitted

    def _forget(self, key: int) -> Callable[[weakref.ref[Signals]], None]:
        def forget(ref: weakref.ref[Signals]) -> None:
            with self._lock:
                if key in self._fits and self._fits[key][0] is ref:
                    del self._fits[key]

        return forget

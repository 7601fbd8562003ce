"""Attacker knowledge: what the attacker calibrates on; the ``knowledge`` values of configs and tables."""

from enum import StrEnum


class Knowledge(StrEnum):
    """How much the attacker knows of the defense. Members equal their strings, so YAML values, Parquet
    columns and comparisons with plain strings work as they always did."""

    NAIVE = "naive"  # calibrates on undefended outputs (the DynaNoise paper's protocol)
    ADAPTIVE = "adaptive"  # calibrates on outputs passed through the same defense
    AVERAGING = "averaging"  # adaptive, and averages the answers to repeated queries

"""Risk tiers: the strongest attack's AUC in plain language, with the thresholds stated once."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RiskTier:
    """A tier: its name, the AUC below which it applies (``None``: no upper end) and what it means."""

    name: str
    below: float | None
    meaning: str


#: The tiers, lowest first; a strongest-attack AUC falls in the first tier whose ``below`` it is under.
RISK_TIERS = (
    RiskTier("low", 0.55, "Attacks do little better than a coin flip at telling members from non-members."),
    RiskTier("moderate", 0.65, "Attacks tell members from non-members noticeably better than chance."),
    RiskTier("high", None, "Attacks reliably tell whether a record was in the training set."),
)


def risk_tier(auc: float) -> tuple[str, str]:
    """The tier of a strongest-attack ``auc``: its name and what it means.

    >>> risk_tier(0.5)[0], risk_tier(0.6)[0], risk_tier(0.65)[0]
    ('low', 'moderate', 'high')
    """
    tier = next(t for t in RISK_TIERS if t.below is None or auc < t.below)
    return tier.name, tier.meaning


def tier_range(tier: RiskTier) -> str:
    """The AUC range of ``tier`` as text, e.g. ``0.55 ≤ AUC < 0.65``."""
    index = RISK_TIERS.index(tier)
    low = None if index == 0 else RISK_TIERS[index - 1].below
    parts = ([f"{low:g} ≤ AUC"] if low is not None else ["AUC"]) + (
        [f"< {tier.below:g}"] if tier.below else []
    )
    return " ".join(parts)

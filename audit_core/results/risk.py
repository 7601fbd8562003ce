"""Risk tiers: the strongest attack's AUC in plain language, with the thresholds stated once."""

from collections.abc import Sequence
from dataclasses import dataclass

from audit_core.stats.family import null_auc_high
from audit_core.stats.metrics import auc_score_interval


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


def defense_effect(defended: float, undefended: float) -> str | None:
    """What a defense's strongest-attack AUC says against the undefended model's, when the defense does not
    lower the risk tier (None when it does), or when the undefended risk is in the lowest tier already: a
    clause for the sentence that names the chosen defense.

    >>> defense_effect(0.70, 0.68)
    'no lower than undefended (0.680): it does not lower the risk'
    >>> defense_effect(0.66, 0.68)
    'lower than undefended (0.680), but its risk tier stays high'
    >>> defense_effect(0.60, 0.68) is None
    True
    >>> defense_effect(0.6847, 0.6852)  # equal as shown
    'no lower than undefended (0.685): it does not lower the risk'
    >>> defense_effect(0.536, 0.520)  # a model that leaks nothing needs no defense
    'no lower than undefended (0.520), whose risk is already low'
    """
    undefended_tier = risk_tier(undefended)[0]
    lower = round(defended, 3) < round(undefended, 3)  # as the sentence shows them: 0.685 is not below 0.685
    if undefended_tier == RISK_TIERS[0].name:
        relation = "lower than" if lower else "no lower than"
        return f"{relation} undefended ({undefended:.3f}), whose risk is already {undefended_tier}"
    if not lower:
        return f"no lower than undefended ({undefended:.3f}): it does not lower the risk"
    tier = risk_tier(defended)[0]
    if tier == risk_tier(undefended)[0]:
        return f"lower than undefended ({undefended:.3f}), but its risk tier stays {tier}"
    return None


@dataclass(frozen=True)
class MeasuredAuc:
    """One attack's AUC and the audit points it was measured on."""

    value: float
    members: int
    non_members: int


def shown_above_chance(aucs: Sequence[MeasuredAuc], alpha: float = 0.05) -> bool:
    """True when some AUC is above what a model that leaks nothing reaches with family-wise probability
    ``alpha`` over all of them (each compared with the Mann-Whitney null's upper bound at ``alpha / k`` for
    ``k`` distinct measurements: the same AUC on the same points, e.g. under two attacker knowledges that
    only calibrate differently, is one test). The strongest of many noisy AUCs is above 0.5 even for a model
    that leaks nothing; this says whether it is more."""
    distinct = set(aucs)
    error = alpha / max(1, len(distinct))
    return any(a.value > null_auc_high(a.members, a.non_members, error) for a in distinct)


def unshown(aucs: Sequence[MeasuredAuc]) -> bool:
    """True when the strongest of ``aucs`` (one condition's attacks) lies above the lowest tier but no attack
    is shown above chance: the tier rests on the largest of many noisy estimates."""
    return risk_tier(max(a.value for a in aucs))[0] != RISK_TIERS[0].name and not shown_above_chance(aucs)


#: Marks a table's tier that :func:`unshown` holds for; :data:`UNSHOWN_NOTE` explains it under the table.
UNSHOWN_MARK = "*"
UNSHOWN_NOTE = (
    "* No attack on that condition is shown better than chance: the tier rests on the largest of many noisy "
    "AUCs (none above what a model that leaks nothing reaches at 95% over them)."
)


def risk_statement(aucs: Sequence[MeasuredAuc]) -> tuple[str, str]:
    """The tier of the strongest of ``aucs`` (one condition's attacks) and what it means, or, when
    :func:`unshown`, that no attack is shown above chance."""
    tier, meaning = risk_tier(max(a.value for a in aucs))
    if not unshown(aucs):
        return tier, meaning
    return tier, (
        f"But no attack is shown better than chance: the strongest AUC is the largest of {len(set(aucs))} "
        "distinct noisy estimates, and none is above what a model that leaks nothing reaches at 95% over all "
        "of them; more audit points would tell."
    )


def tier_range(tier: RiskTier) -> str:
    """The AUC range of ``tier`` as text, e.g. ``0.55 ≤ AUC < 0.65``."""
    index = RISK_TIERS.index(tier)
    low = None if index == 0 else RISK_TIERS[index - 1].below
    parts = ([f"{low:g} ≤ AUC"] if low is not None else ["AUC"]) + (
        [f"< {tier.below:g}"] if tier.below else []
    )
    return " ".join(parts)


def class_label(label: int, names: Sequence[str | int] | None) -> str:
    """A class as the data name it: its name in ``data.classes`` (``names``), else its index."""
    return str(label if names is None else names[label])


def most_exposed_class(
    attack: str, overall: float, classes: dict[str, MeasuredAuc], alpha: float = 0.05
) -> str | None:
    """One sentence naming the class whose AUC under ``attack`` is shown above ``overall``, the AUC over
    all records: the lower end of its score interval at ``1 - alpha / k`` (``k`` classes in ``classes``, by
    name) lies above it, the highest such end if several do; None when no class's does.

    >>> classes = {"0": MeasuredAuc(0.777, 1916, 1932), "1": MeasuredAuc(1.0, 84, 68)}
    >>> most_exposed_class("rmia", 0.793, classes).split(", rmia")[0]
    'Most exposed class: 1 (84 members, 68 non-members)'
    """
    if not classes:
        return None
    level = 1 - alpha / len(classes)
    lows = {
        name: auc_score_interval(c.value, c.members, c.non_members, level).ci_low
        for name, c in classes.items()
    }
    above = [name for name, low in lows.items() if low > overall]
    if not above:
        return None
    name = max(above, key=lows.__getitem__)
    c = classes[name]
    return (
        f"Most exposed class: {name} ({c.members} members, {c.non_members} non-members), {attack} AUC "
        f"{c.value:.3f}, above the {overall:.3f} over all records even at the bottom of its {level:.1%} "
        f"interval ({lows[name]:.3f}; one of {len(classes)} classes)."
    )

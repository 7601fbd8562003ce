"""Small values several report sections share: intervals as text, the chosen condition."""

from itertools import pairwise

from audit_core.audit.analysis import ConditionEvaluation
from audit_core.results.tables import AuditResult
from audit_core.stats.metrics import Estimate


def interval(e: Estimate, digits: int = 3) -> str:
    """``value [low, high]`` at ``digits`` decimals; a no-break space after the comma keeps the bracket on one
    line where a narrow cell wraps the text."""
    return f"{e.value:.{digits}f} [{e.ci_low:.{digits}f},\u00a0{e.ci_high:.{digits}f}]"


def chosen_evaluation(result: AuditResult) -> ConditionEvaluation | None:
    """The evaluation of the condition the report centres on (None without a defense)."""
    return next((ev for ev in result.defended if ev.condition == result.chosen), None)


#: Column heads of the tables with a column per attack, short enough for their column without breaking a word;
#: an attack without an entry is headed by its name.
ATTACK_HEADS = {
    "confidence": "conf.",
    "modified_entropy": "mod. entropy",
    "paper_confidence": "paper conf.",
    "paper_loss": "paper loss",
    "paper_lira": "paper LiRA",
    "lira_online": "LiRA online",
    "lira_offline": "LiRA offline",
    "augmentation": "augment.",
    "boundary": "boundary",
}


def attack_head(attack: str) -> str:
    """The column head of ``attack`` in a table with a column per attack."""
    return ATTACK_HEADS.get(attack, attack.replace("_", " "))


#: The most attack columns one table holds: with its condition and summary columns it fits a portrait page at
#: the dense tables' type size. More attacks go into consecutive tables (the whole report is portrait, so that
#: no section has to start a page of its own and leave the one before it nearly empty).
ATTACK_COLUMNS = 8


def attack_groups(count: int, most: int = ATTACK_COLUMNS) -> list[slice]:
    """``count`` attack columns cut into the fewest consecutive groups of at most ``most``, as even as
    possible (15 columns: 8 and 7).

    >>> attack_groups(15), attack_groups(3)
    ([slice(0, 8, None), slice(8, 15, None)], [slice(0, 3, None)])
    """
    groups = max(1, -(-count // most))
    bounds = [round(i * count / groups) for i in range(groups + 1)]
    return [slice(start, stop) for start, stop in pairwise(bounds)]


def condition_modes(result: AuditResult, chosen_only: bool = False) -> list[tuple[ConditionEvaluation, str]]:
    """(condition, knowledge) pairs to show: the undefended baseline once, then each defense (or only the
    chosen one) per knowledge."""
    shown = [ev for ev in result.defended if not chosen_only or ev.condition == result.chosen]
    return [(result.baseline, result.knowledge[0])] + [(ev, k) for ev in shown for k in result.knowledge]

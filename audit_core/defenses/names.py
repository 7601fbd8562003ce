"""What a condition is called wherever people read it: the terminal, the report, its figures.

A condition's ``label`` (``Defense.label``) is its identity: the Parquet tables are keyed by it and the
run's noise is seeded by it, so it never changes. People read :func:`condition_name`: the label, except that
the tuned DynaNoise is ``dynanoise@tuned`` and DynaNoise at the paper's setting ``dynanoise@paper``, so two
DynaNoise conditions are never both headed "dynanoise".
"""

from audit_core.defenses.dynanoise import PAPER_SETTING, DynaNoise

PAPER_LABEL = DynaNoise(**PAPER_SETTING).label


def condition_name(label: str, tuned: str | None = None) -> str:
    """The name shown for the condition ``label``; ``tuned`` is the tuned DynaNoise's label, if the run tuned.

    >>> condition_name("dynanoise(sigma0_sq=0.3, lam=2, T=10)")
    'dynanoise@paper'
    >>> condition_name("dynanoise(sigma0_sq=0.2, lam=3, T=4)", tuned="dynanoise(sigma0_sq=0.2, lam=3, T=4)")
    'dynanoise@tuned'
    >>> condition_name("memguard(distortion_budget=1)")
    'memguard(distortion_budget=1)'
    """
    if label == tuned:
        return f"{label.partition('(')[0]}@tuned"
    if label == PAPER_LABEL:
        return f"{DynaNoise.name}@paper"
    return label

"""The tuning step of an audit: DynaNoise tuned on the tuning split against the config's attackers."""

from collections.abc import Callable

from audit_core.audit.signals import (
    Signals,
)
from audit_core.config import AuditConfig, TuneConfig
from audit_core.defenses import DefenderData
from audit_core.tuning.search import Attacker, TuningResult, tune


def tune_dynanoise(
    config: AuditConfig,
    tuning: Signals,
    evaluation: Signals,
    defender: DefenderData,
    on_trial_done: Callable[[int, int], None] | None = None,
) -> TuningResult:
    """Tune DynaNoise on the ``tuning`` part (``config.tune``, or the defaults) against the config's attacks,
    and confirm the chosen points on the disjoint ``evaluation`` part; ``on_trial_done(done, total)`` reports
    each trial."""
    tune_config = config.tune or TuneConfig()
    against = Attacker(
        tuple(config.attacks),
        tune_config.knowledge,
        config.seed,
        config.max_queries,
        config.attack_params,
    )
    return tune(tuning, evaluation, defender, tune_config, against, on_trial_done)

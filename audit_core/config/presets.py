"""Named settings in one place: the paper's DynaNoise settings, the demo's defenses and the embedded demo.

The paper's best setting is DynaNoise's defaults, so it is defined with the defense
(:data:`audit_core.defenses.PAPER_SETTING`: the defenses layer sits below the config and cannot import it);
this module names it with the other presets.
"""

from typing import Any

from audit_core.defenses import PAPER_SETTING

__all__ = ["DEMO_DEFENSES", "DEMO_SETTINGS", "PAPER_CENTRE", "PAPER_SETTING"]

#: The centre of the paper's v1 one-at-a-time sweeps of (sigma0_sq, lam, T) (notes, section 3).
PAPER_CENTRE = {"sigma0_sq": 0.1, "lam": 2.0, "temperature": 6.0}

#: The demo's defenses: DynaNoise at the paper's setting and every baseline at a representative setting.
DEMO_DEFENSES: list[dict[str, Any]] = [
    {"name": "dynanoise", **PAPER_SETTING},
    {"name": "static_noise", "sigma_sq": 1.0},
    {"name": "temperature", "temperature": 10.0},
    {"name": "hamp"},
    {"name": "memguard", "distortion_budget": 1.0},
    {"name": "reverse_sigmoid", "beta": 0.5, "gamma": 1.0},
    {"name": "top_k", "k": 3, "decimals": 2},
    {"name": "label_only"},
]


#: The embedded demo (``dynaudit demo``, configs/demo.yaml): 300 members and 300 non-members of the digits
#: (half of each tunes DynaNoise, half is audited), DynaNoise at the paper's setting and every baseline,
#: DynaNoise tuned under a 2-point accuracy budget, and the limits of policies/ci.yaml for the verdict.
DEMO_SETTINGS: dict[str, Any] = {
    "data": {"kind": "demo", "dataset": "digits", "n_members": 300, "n_non_members": 300},
    "defenses": DEMO_DEFENSES,
    "tune": {"budget": 0.02},
    "policy": {"max_auc": 0.6, "max_advantage": 0.25, "max_tpr_at_1pct_fpr": 0.05, "max_accuracy_drop": 0.05},
}

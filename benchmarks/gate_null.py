"""The gate's false alarms on audits of models that leak nothing, and its power on a leaky one, at 100/100
and 500/500 audit points, under the shipped policy (policies/ci.yaml).

    .venv/bin/python benchmarks/gate_null.py               # 200 audits per row
    .venv/bin/python benchmarks/gate_null.py --audits 50   # a quicker look
    .venv/bin/python benchmarks/gate_null.py --kinds real  # only the real target's rows (--kinds simulated)

Rows (each audit is analysed by dynaudit's analysis and decided by check_gate):

- simulated null: every attack's scores are N(0, 1) for members and non-members alike, independent across
  the 12 attacks and 2 attacker knowledges (nothing shared between them: the hardest family), on the chosen
  condition, plus the paired accuracy drop of a defense that changes no answer of 300.
- real null split: the demo's MLP and recipe trained on 500 members of scikit-learn's synthetic set (the
  digits are too few for 500/500 audits plus the shadow model's 1000 population records); the 1500 records
  it never trained on (its non-members and the attacker's population) split at random into "members" and
  "non-members"; the 12 attacks that need no reference models under naive and adaptive knowledge on DynaNoise
  at the paper's setting (the chosen condition, with its real paired accuracy drop on the test set). LiRA and
  RMIA are left out: their reference models would have to be trained on every split.
- leaky target: the same target's real 500 members and 500 non-members, undefended (the policy aimed at
  `undefended`, without the accuracy limit); 100/100 audits drawn without replacement, 500/500 audits drawn
  with replacement. Its failure rate is the gate's power.

Each row gives the rate of FAILED audits per rule and overall, with the overall rate's Clopper-Pearson 95%
interval, and (in brackets) the rate at which a rule was unresolved (the shipped policy warns).
"""

import argparse
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from audit_core.audit.analysis import METRIC_COLUMNS, analyse_scores, drop_rows
from audit_core.audit.conditions import conditions
from audit_core.audit.evaluation import score_condition
from audit_core.audit.run import gather_inputs
from audit_core.config import DEFAULT_ATTACKS, parse_config
from audit_core.gate.check import GatePolicy, check_gate
from audit_core.gate.inputs import load_policy
from audit_core.stats.metrics import clopper_pearson
from audit_core.stats.paired import PairedDrop

SIZES = (100, 500)
# every default attack that needs no reference models (those would be trained on every split)
ATTACKS = [a for a in DEFAULT_ATTACKS if a not in ("lira_online", "lira_offline", "rmia")]
KNOWLEDGE = ["naive", "adaptive"]
CHOSEN = "chosen"


def _frame(condition: str, scores: dict[tuple[str, str], np.ndarray], is_member: np.ndarray) -> pd.DataFrame:
    return pd.concat(
        pd.DataFrame(
            {"condition": condition, "knowledge": k, "attack": a, "is_member": is_member, "score": s}
        )
        for (k, a), s in scores.items()
    )


def _with_drop(metrics: pd.DataFrame, condition: str, drop: PairedDrop) -> pd.DataFrame:
    rows = [(condition, condition.partition("(")[0], None, None, *r) for r in drop_rows(drop)]
    return pd.concat([metrics, pd.DataFrame(rows, columns=METRIC_COLUMNS)], ignore_index=True)


def simulated_null(n: int, rng: np.random.Generator, seed: int):
    is_member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    scores = _frame(CHOSEN, {(k, a): rng.normal(size=2 * n) for k in KNOWLEDGE for a in ATTACKS}, is_member)
    metrics = analyse_scores(scores, seed=seed)
    correct = rng.random(300) < 0.9
    return _with_drop(metrics, CHOSEN, PairedDrop.of(correct, correct)), scores, CHOSEN


class RealTarget:
    """The demo MLP on 500 synthetic members, its scores on every record it never trained on and on its
    members (undefended and under DynaNoise), and DynaNoise's paired accuracy drop on the test set."""

    def __init__(self, seed: int = 0):
        config = parse_config(
            {
                "seed": seed,
                "data": {
                    "kind": "demo",
                    "dataset": "synthetic",
                    "n_members": 500,
                    "n_non_members": 500,
                    "n_population": 1000,
                },
                "defenses": [{"name": "dynanoise"}],
                "attacks": ATTACKS,
                "knowledge": KNOWLEDGE,
                "reference_models": 0,
                "cache_dir": None,
            },
            source="benchmark",
        )
        inputs = gather_inputs(config)
        signals = inputs.signals
        # the held-out pool: non-members and population, each record scored once (its score does not depend
        # on which other records are audited with it: the attacks are calibrated on the shadow model)
        pool = replace(signals, members=signals.population, population=None)
        self.undefended, self.defense = conditions(config, inputs.defender)
        self.chosen = self.defense.label
        self.pool = {}
        self.leaky = {}
        for defense in (self.undefended, self.defense):
            self.pool[defense.label] = self._scores(pool, defense, seed)
            self.leaky[defense.label] = self._scores(signals, defense, seed)
        undefended = score_condition(signals, self.undefended, [], seed=seed).test_correct
        defended = score_condition(signals, self.defense, [], seed=seed).test_correct
        self.drop = PairedDrop.of(undefended, defended)
        self.n_members = len(signals.members)

    @staticmethod
    def _scores(signals, defense, seed) -> dict[tuple[str, str], np.ndarray]:
        scored = score_condition(signals, defense, ATTACKS, seed=seed, knowledge=KNOWLEDGE, max_queries=1)
        return {(s.knowledge, s.attack): s.scores for s in scored.scores}

    def null_split(self, n: int, rng: np.random.Generator, seed: int):
        size = len(next(iter(self.pool[self.chosen].values())))
        picked = rng.choice(size, 2 * n, replace=False)
        is_member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
        scores = _frame(self.chosen, {key: s[picked] for key, s in self.pool[self.chosen].items()}, is_member)
        metrics = analyse_scores(scores, seed=seed)
        return _with_drop(metrics, self.chosen, self.drop), scores, self.chosen

    def leaky_audit(self, n: int, rng: np.random.Generator, seed: int):
        m = self.n_members
        with_replacement = n > m // 2
        members = rng.choice(m, n, replace=with_replacement)
        non_members = m + rng.choice(
            len(next(iter(self.leaky["undefended"].values()))) - m, n, replace=with_replacement
        )
        picked = np.r_[members, non_members]
        is_member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
        scores = _frame(
            "undefended", {key: s[picked] for key, s in self.leaky["undefended"].items()}, is_member
        )
        return analyse_scores(scores, seed=seed), scores, None


def rates(make, policy: GatePolicy, n: int, audits: int) -> dict[str, str]:
    """Run ``audits`` audits of ``n``/``n`` points; the failure (and unresolved) rate per rule and overall."""
    rng = np.random.default_rng(n)
    failed = {rule: 0 for rule in policy.limits}
    unresolved = dict.fromkeys(policy.limits, 0)
    overall = 0
    for seed in range(audits):
        metrics, scores, chosen = make(n, rng, seed)
        verdict = check_gate(policy, metrics, chosen=chosen, scores=(scores, None))
        overall += not verdict.passed
        for rule in verdict.rules:
            failed[rule.rule] += rule.outcome == "fail"
            unresolved[rule.rule] += rule.outcome == "unresolved"
    interval = clopper_pearson(overall, audits)
    row = {r: f"{failed[r] / audits:.3f} ({unresolved[r] / audits:.2f})" for r in policy.limits}
    row["overall [95% CI]"] = f"{interval.value:.3f} [{interval.ci_low:.3f}, {interval.ci_high:.3f}]"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audits", type=int, default=200, help="audits per row (200)")
    parser.add_argument(
        "--kinds",
        choices=["all", "simulated", "real"],
        default="all",
        help="simulated rows, the rows of the real target (null splits and power), or all (run two processes "
        "with simulated and real to use two cores)",
    )
    args = parser.parse_args()
    shipped = load_policy("policies/ci.yaml").model_copy(update={"max_regression": None})
    on_undefended = shipped.model_copy(update={"condition": "undefended", "max_accuracy_drop": None})
    started = time.perf_counter()
    rows = []
    if args.kinds in ("all", "simulated"):
        rows.append(("simulated null", simulated_null, shipped))
    if args.kinds in ("all", "real"):
        target = RealTarget()
        rows += [
            ("real null split", target.null_split, shipped),
            ("leaky target (power)", target.leaky_audit, on_undefended),
        ]
    columns = ["audits", "points", "runs", *shipped.limits, "overall [95% CI]"]
    print(
        f"Gate decisions, shipped policy (alpha {shipped.alpha:g}); failure rate (unresolved rate) per rule\n"
    )
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns), flush=True)
    for label, make, policy in rows:
        for n in SIZES:
            row = {
                "audits": label,
                "points": f"{n}/{n}",
                "runs": args.audits,
                **rates(make, policy, n, args.audits),
            }
            print("| " + " | ".join(str(row.get(c, "-")) for c in columns) + " |", flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

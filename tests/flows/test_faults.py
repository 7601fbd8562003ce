"""Faults in the user's code end a run with a sentence and a non-zero exit code, never a silent success: a
model that raises ``SystemExit(0)`` while the flow queries it, an architecture whose training raises it."""

import textwrap

import pytest
import yaml

from tests.flows.conftest import SMALL_AUDIT

TINY = {**SMALL_AUDIT, "recipe": {"epochs": 2}, "policy": {"max_auc": 0.99}}
FAULTY = '''
import numpy as np
import torch


def answers_then_exits(batch):
    """Answers the input check's 16 records, then raises SystemExit(0), as a model calling sys.exit might."""
    if len(batch) > 16:
        raise SystemExit(0)
    return np.zeros((len(batch), 10))


class ExitsWhileTraining(torch.nn.Linear):
    def forward(self, x):
        if self.training:
            raise SystemExit(0)
        return super().forward(x.flatten(1))


def exits_while_training(n_features, n_classes):
    return ExitsWhileTraining(n_features, n_classes)
'''
CASES = {
    "a model that exits while queried": (
        {
            "target": {"kind": "callable", "function": "faulty:answers_then_exits"},
            "references": {"kind": "recipe"},  # dynaudit cannot know how a callable was trained
            "shadow": {"kind": "trained"},
        },
        2,
        "target.function faulty:answers_then_exits raised SystemExit on records of shape (64,)",
    ),
    "an architecture that exits while training": (
        {"recipe": {"epochs": 2, "architecture": "faulty:exits_while_training"}},
        3,
        "the run stopped: SystemExit(0) was raised inside it (by a model or other code it called)",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_system_exit_in_user_code_fails_the_gate_with_a_sentence(case, dynaudit, tmp_path):
    settings, code, sentence = CASES[case]
    (tmp_path / "faulty.py").write_text(textwrap.dedent(FAULTY))
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump({**TINY, "run_name": "faulty", **settings}))
    result = dynaudit(["gate", "audit.yaml", "--junit", "junit.xml", "--summary", "gate.md"], tmp_path)
    assert result.returncode == code, result.stderr[-3000:]
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("dynaudit: ") and sentence in last_line, last_line
    assert "every rule holds" not in result.stdout + result.stderr
    assert not (tmp_path / "junit.xml").exists() and not (tmp_path / "gate.md").exists()
    assert not (tmp_path / "out" / "faulty").exists()

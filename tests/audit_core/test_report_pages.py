"""The PDF of a bring-your-own audit reads like an audit: portrait pages, every one but the last filled, no
text outside its box, a glossary, a compact appendix; for a long report (every defense, tuned, a policy) and a
short one (one defense), whose sections are too short to fill a page each. (The demo's PDF is checked the same
way in tests/flows/test_cli.py.)"""

import shutil

import numpy as np
import pytest
import torch
from pypdf import PdfReader

from audit_core.audit.inputs import check_inputs
from audit_core.audit.run import run_audit
from audit_core.audit.write import policy_verdict
from audit_core.config import DEMO_DEFENSES
from audit_core.report.context import build_context
from audit_core.report.render import render_html
from audit_core.results.risk import RISK_TIERS
from tests.audit_core.byo import config, member_mlp, write_npz
from tests.audit_core.models import mlp
from tests.pdf_pages import MOST_BLANK, blank_fraction, overflowing_text, page_images

pytestmark = [
    pytest.mark.skipif(not shutil.which("pdftoppm"), reason="needs poppler-utils (make bootstrap installs)"),
    pytest.mark.slow,  # a full small audit with every defense and a short tuning, then two renderings
]


#: The audits whose reports are checked: beyond the data and the target, the config's fields.
RUNS = {
    "every defense, tuned, with a policy": {
        "defenses": DEMO_DEFENSES,
        "tune": {"n_trials": 6, "budget": 0.05},
        "policy": {"max_auc": 0.6, "max_accuracy_drop": 0.05},
    },
    "one defense": {"defenses": [{"name": "dynanoise"}]},
}


@pytest.fixture(scope="module", params=list(RUNS))
def byo_run(request, tmp_path_factory):
    """A torch state dict on NPZ files, audited as :data:`RUNS` says."""
    tmp = tmp_path_factory.mktemp("pages")
    torch.save(member_mlp().state_dict(), tmp / "weights.pth")
    target = {
        "kind": "torch_state_dict",
        "weights": str(tmp / "weights.pth"),
        "architecture": f"{mlp.__module__}:mlp",
        "architecture_kwargs": {"n_features": 8, "n_classes": 3},
    }
    audit = config(
        tmp, data={"kind": "npz", "ids_key": "ids", **write_npz(tmp)}, target=target, **RUNS[request.param]
    )
    check_inputs(audit)
    return audit, run_audit(audit, write=True)


def test_every_page_but_the_last_is_filled(byo_run):
    _, run = byo_run
    pdf = run.run_dir / "report.pdf"
    blank = [blank_fraction(page) for page in page_images(pdf)]
    assert len(blank) >= 5
    assert max(blank[:-1]) <= MOST_BLANK, np.round(blank, 2)
    assert all(page.mediabox.width < page.mediabox.height for page in PdfReader(pdf).pages)  # A4 portrait


def test_no_text_leaves_its_box(byo_run):
    audit, run = byo_run
    verdict = policy_verdict(audit, run.result.metrics_table(), run.result.scores_table(), run.result)
    context = build_context(run.result, run.defenses, run.tuning, verdict)
    assert overflowing_text(render_html(context, for_pdf=True), str(run.run_dir)) == []


def test_glossary_and_compact_appendix(byo_run):
    _, run = byo_run
    text = "\n".join(page.extract_text() for page in PdfReader(run.run_dir / "report.pdf").pages)
    assert "Glossary" in text and "Appendix A" in text
    for tier in RISK_TIERS:
        assert tier.meaning.split()[0] in text
    assert "0.55 ≤ AUC < 0.65" in text
    words = " ".join(text.split())  # a long name wraps at its spaces, never inside a word
    for evaluation in run.result.evaluations:
        assert run.result.name(evaluation.condition) in words

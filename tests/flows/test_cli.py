"""End-to-end: the installed ``dynaudit`` command, as a user runs it, against the session's Prefect server."""

import io
import json
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from pypdf import PdfReader
from rich.console import Console

from audit_core.config import DEFAULT_ATTACKS, DEMO_DEFENSES
from audit_core.core.files import sha256_file
from audit_core.defenses import DEFENSES
from audit_core.defenses.serving import load_params
from audit_core.results.risk import risk_tier
from audit_core.results.summary import conclusion
from flows.terminal import print_audit
from tests.pdf_pages import MOST_BLANK, blank_fraction, page_images

ARTIFACTS = (
    "report.html",
    "report.pdf",
    "metrics.parquet",
    "scores.parquet",
    "averaging.parquet",
    "manifest.json",
)


@pytest.fixture(scope="module")
def demo_run(dynaudit, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cli")  # the model cache goes to ./.dynaudit-cache here
    out = workdir / "out"
    result = dynaudit(["demo", "--output-dir", str(out)], workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return result, (out / "demo" / "latest").resolve()  # the run folder the latest pointer names


def test_demo_writes_every_artifact_and_prints_where(demo_run):
    result, run_dir = demo_run
    for name in ARTIFACTS:
        assert (run_dir / name).is_file(), name
    for name in ("report.pdf", "report.html", "metrics.parquet"):
        assert str(run_dir / name) in result.stdout
    assert "Shadow and reference models: trained 9, reused 0 from the cache." in result.stdout
    for name in ("dynanoise-params.json", "tuning.parquet", "front.parquet", "roc.parquet"):
        assert (run_dir / name).is_file(), name


def test_demo_parquet_tables_read_back(demo_run):
    _, run_dir = demo_run
    metrics = pq.read_table(run_dir / "metrics.parquet")
    assert metrics.schema.metadata[b"dynaudit.kind"] == b"metrics"
    frame = metrics.to_pandas()
    assert list(frame.columns) == [
        "condition",
        "defense",
        "knowledge",
        "attack",
        "slice",
        "metric",
        "value",
        "ci_low",
        "ci_high",
        "note",
    ]
    undefended_auc = frame[(frame.condition == "undefended") & (frame.metric == "auc")].value
    assert undefended_auc.max() >= 0.60, "the demo target must really leak"
    scores = pq.read_table(run_dir / "scores.parquet").to_pandas()
    n_conditions = 2 + len(DEMO_DEFENSES)  # undefended, DynaNoise, every baseline and the tuned DynaNoise
    # evaluation-split points x conditions x knowledge x attacks
    assert len(scores) == 300 * n_conditions * 3 * len(DEFAULT_ATTACKS)
    assert set(frame.defense) == set(DEFENSES)
    assert not scores.record.str.contains("digits").any(), "record ids must be hashed"
    assert scores.groupby("record").is_member.nunique().max() == 1


def test_demo_output_fits_40_lines_and_its_last_block_begins_with_the_verdict(demo_run):
    result, run_dir = demo_run
    shown = result.stdout + result.stderr
    assert len(shown.strip().splitlines()) <= 40, shown
    assert " INFO " not in shown, "Prefect's INFO lines belong in Prefect, not the default output"
    last = result.stdout.strip().split("\n\n")[-1].splitlines()
    verdict = json.loads((run_dir / "manifest.json").read_text())["verdict"]
    assert last[0] == f"Policy verdict: {verdict['headline']}" and verdict["headline"].startswith(
        f"{verdict['status']} on dynanoise("
    )
    assert last[1].startswith("Undefended risk: ") and last[2].startswith("Chosen defense: dynanoise@tuned, ")
    assert last[-1].startswith(f"Report: {run_dir / 'report.pdf'} and {run_dir / 'report.html'}")
    rows = [line.split()[0] for line in last[3:] if line.startswith(("undefended", "dynanoise", "memguard"))]
    assert rows == ["undefended", "dynanoise@paper", "memguard(distortion_budget=1)", "dynanoise@tuned"]


def test_the_chosen_line_says_when_the_tuned_defense_costs_more_than_the_tuning_budget(demo_run):
    _, run_dir = demo_run
    metrics = pq.read_table(run_dir / "metrics.parquet").to_pandas()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    accuracy = metrics[(metrics.slice == "all") & (metrics.metric == "test_accuracy")].set_index("condition")
    tuned = manifest["conditions"]["tuned"]
    cost = accuracy.value["undefended"] - accuracy.value[tuned]
    for budget, over in ((cost - 0.001, True), (cost, False)):
        manifest["config"]["tune"]["budget"] = budget
        chosen = conclusion(metrics, manifest).chosen
        assert chosen.startswith(f"Chosen defense: dynanoise@tuned, accuracy cost {cost:+.4f}")
        assert (f"(over tune.budget = {budget:g}, which it met on the tuning split);" in chosen) is over
    manifest["config"]["tune"]["budget"] = budget = cost - 0.001
    manifest["conditions"]["tuned"] = None  # as if no trial had kept the budget: the configured one, over it
    assert (
        f"accuracy cost {cost:+.4f} (over tune.budget = {budget:g});" in conclusion(metrics, manifest).chosen
    )
    manifest["config"]["tune"] = None  # the same condition, configured rather than tuned: no budget applies
    assert "tune.budget" not in conclusion(metrics, manifest).chosen


def test_the_chosen_line_says_when_the_chosen_defense_does_not_lower_the_risk_tier(demo_run):
    """A defense whose strongest adaptive attack reaches the undefended model's AUC (the tuner found no
    setting within the budget that helps) is called chosen, but the line says it does not lower the risk; one
    a little lower in the same tier, that the tier stays; one in a lower tier, neither."""
    _, run_dir = demo_run
    metrics = pq.read_table(run_dir / "metrics.parquet").to_pandas()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    aucs = metrics[(metrics.slice == "all") & (metrics.metric == "auc")]
    undefended = aucs[aucs.condition == "undefended"].value.max()
    chosen = aucs[(aucs.condition == manifest["conditions"]["chosen"]) & (aucs.knowledge != "naive")]
    tier = risk_tier(undefended)[0]

    def line(auc: float) -> str:
        changed = metrics.copy()
        changed.loc[chosen.index, "value"] = np.minimum(changed.loc[chosen.index, "value"], auc)
        changed.loc[chosen.value.idxmax(), "value"] = auc
        return conclusion(changed, manifest).chosen

    assert line(undefended).endswith(
        f"with AUC {undefended:.3f}, no lower than undefended ({undefended:.3f}): it does not lower the risk."
    )
    same = undefended - 0.001
    assert risk_tier(same)[0] == tier
    assert line(same).endswith(
        f"with AUC {same:.3f}, lower than undefended ({undefended:.3f}), but its risk tier stays {tier}."
    )
    assert line(0.5).endswith("with AUC 0.500.")


def test_verbose_output_lists_every_file_and_the_full_tables(demo_run):
    _, run_dir = demo_run
    shown = io.StringIO()
    print_audit(run_dir, verbose=True, out=Console(file=shown, width=200))
    text = shown.getvalue()
    for name in ARTIFACTS:
        assert f"  {run_dir / name}\n" in text
    assert "| undefended | — |" in text and "| attack AUC |" in text
    assert text.strip().split("\n\n")[-1].startswith("Policy verdict: ")


def test_demo_pdf_has_at_least_two_pages_and_the_headline(demo_run):
    _, run_dir = demo_run
    assert (run_dir / "report.pdf").read_bytes()[:5] == b"%PDF-"
    reader = PdfReader(run_dir / "report.pdf")
    assert len(reader.pages) >= 2
    assert "Privacy audit: demo" in reader.pages[0].extract_text()


def test_demo_pdf_has_at_most_20_pages_each_filled_but_the_last(demo_run):
    _, run_dir = demo_run
    blank = [blank_fraction(page) for page in page_images(run_dir / "report.pdf")]
    assert len(blank) <= 20
    assert max(blank[:-1]) <= MOST_BLANK, [round(b, 2) for b in blank]


def test_demo_manifest_records_config_seeds_versions_and_hashes(demo_run):
    _, run_dir = demo_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["config"]["run_name"] == "demo"
    assert set(manifest["fingerprints"]) == {"data", "target"}
    assert manifest["versions"]["torch"].startswith("2.14")
    for name in ARTIFACTS[:-1]:
        assert manifest["files"][name]["sha256"] == sha256_file(run_dir / name)


def test_audit_command_runs_the_shipped_config(dynaudit, tmp_path):
    config = tmp_path / "small.yaml"
    shipped = (Path(__file__).parents[2] / "configs" / "demo.yaml").read_text()
    config.write_text(
        shipped.replace("epochs: 200", "epochs: 20").replace("run_name: demo", "run_name: small")
    )
    result = dynaudit(["audit", str(config), "--output-dir", str(tmp_path / "out")], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "out" / "small" / "latest" / "report.pdf").is_file()


def test_tune_command_writes_parameters_trials_and_the_front(dynaudit, tmp_path):
    config = tmp_path / "tune.yaml"
    shipped = yaml.safe_load((Path(__file__).parents[2] / "configs" / "demo.yaml").read_text())
    shipped["recipe"]["epochs"] = 30
    shipped.update(run_name="small", reference_models=4, tune={"n_trials": 8, "budget": 0.03})
    config.write_text(yaml.safe_dump(shipped))
    result = dynaudit(["tune", str(config), "--output-dir", str(tmp_path / "out")], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "out" / "small-tune" / "latest"
    defense = load_params(run_dir / "dynanoise-params.json", key=b"k" * 16)
    assert defense.noise_mode == "per_input"
    trials = pq.read_table(run_dir / "tuning.parquet").to_pandas()
    assert len(trials) == 8 and trials.chosen.sum() == 1
    assert trials[trials.chosen].accuracy_drop.iloc[0] <= 0.03
    front = pq.read_table(run_dir / "front.parquet").to_pandas()
    assert set(front.family) == set(DEFENSES)
    assert set(front[front.chosen].split) == {"tuning", "evaluation"}
    assert (run_dir / "front.svg").read_text().startswith("<svg")
    lines = result.stdout.rstrip().splitlines()
    [start] = [i for i, line in enumerate(lines) if line.startswith("Chosen DynaNoise: ")]
    last_block = lines[start:]  # the conclusion, the table (two header lines, a rule, rows), the files
    chosen = front[front.chosen & (front.family == "dynanoise")].condition.iloc[0]
    assert last_block[0].startswith(f"Chosen DynaNoise: {chosen}, the highest midput within the budget among")
    rows = {line.split()[0] for line in last_block[4:-1]}
    assert rows == set(front.family)
    assert last_block[-1].startswith(f"Parameters: {tmp_path / 'out' / 'small-tune'}")
    listing = dynaudit(["runs", "small-tune", "--output-dir", str(tmp_path / "out")], tmp_path)
    assert listing.returncode == 0, listing.stderr
    [row] = [line for line in listing.stdout.splitlines() if line.startswith("| 2")]
    assert row.startswith(f"| {run_dir.resolve().name} |") and "| no policy | — | dynanoise(" in row


@pytest.mark.parametrize(
    ("args", "sentence", "within_s"),  # within_s: how long the refusal may take (measured: refusal_s)
    [
        (["audit", "missing.yaml"], "Config file 'missing.yaml' does not exist", 60),
        (["audit", "bad.yaml"], "field 'defenses.0.lam' = -2 is invalid", 60),
        (["demo", "--run-name", "../escape"], "field 'run_name' = '../escape' is invalid", 60),
        (["tune", "bad.yaml"], "field 'defenses.0.lam' = -2 is invalid", 60),
        (["demo", "--output-dir", "file/out"], "Output directory 'file/out' cannot be created", 60),
        (["demo"], "PREFECT_API_URL: no Prefect server answers at http://127.0.0.1:9/api; start it", 60),
    ],
)
def test_bad_input_exits_2_with_one_sentence_and_writes_nothing(
    run_cli, tmp_path, args, sentence, within_s, record_property
):
    (tmp_path / "bad.yaml").write_text("defenses:\n  - name: dynanoise\n    lam: -2\noutput_dir: out\n")
    (tmp_path / "file").write_bytes(b"")
    before = set(tmp_path.rglob("*"))
    output = [] if "--output-dir" in args else ["--output-dir", "out"]
    started = time.perf_counter()
    result = run_cli([*args, *output], tmp_path, api_url="http://127.0.0.1:9/api")
    took = time.perf_counter() - started  # a new Python process: its imports included
    record_property("refusal_s", round(took, 2))
    assert result.returncode == 2
    assert sentence in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert set(tmp_path.rglob("*")) == before, "a rejected command writes nothing"
    assert took < within_s, f"refused after {took:.1f} s"

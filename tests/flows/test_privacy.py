"""Playing the attacker against every artifact of real audits run through Prefect: no string anywhere in them
turns a candidate record id into a record hash without the key, and no secret (``id_salt``, DynaNoise's
``key``) appears in clear in the run folder, the terminal, Prefect's API or its database."""

import hashlib
import hmac
import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterName,
)
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker

from audit_core.audit.inputs import load_audit_data
from audit_core.config import AuditConfig
from audit_core.config.secrets import PrefectSecret
from audit_core.core.errors import ConfigError
from audit_core.report.exposure import READERS
from flows.audit import audit, resolved
from tests.flows.test_serve import _served_deployments, _stop, _wait_for

SALT = "the user's id_salt 7f3c9a1e"
KEY = "the dynanoise key 0b5e42d8c1a7f9e3"
BLOCK_SALT = "an id_salt kept in a Prefect Secret block 5d1c"
SMALL = {
    "recipe": {"epochs": 20},
    "reference_models": 4,
    "max_queries": 4,
    "attacks": ["confidence", "loss", "lira_offline"],
    "knowledge": ["naive", "adaptive"],
    "defenses": [{"name": "dynanoise", "noise_mode": "per_input", "key": KEY}],
}
TOKEN = re.compile(r"[^\s\"'<>,;:(){}\[\]=|`*]+")


@dataclass
class Run:
    run_dir: Path
    flow_run_id: object
    terminal: str = ""


def _leaves(value: object) -> Iterator[str]:
    """Every key and value of a JSON document, as text."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None:
        yield str(value)


def _text_strings(text: str) -> set[str]:
    """Each token and each whole line of ``text``."""
    return {*TOKEN.findall(text), *(line.strip() for line in text.splitlines())} - {""}


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def _file_strings(run_dir: Path) -> set[str]:
    """Every string of every file of a run folder: report HTML and PDF text, Parquet values, names and
    metadata, JSON leaves, SVG text."""
    found: set[str] = set()
    for path in run_dir.rglob("*"):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            found |= set(table.column_names)
            for key, value in (table.schema.metadata or {}).items():
                found |= _text_strings(key.decode()) | _text_strings(value.decode())
            for column in table.columns:  # text columns (numbers are not strings an attacker keys with)
                if (
                    pa.types.is_string(column.type)
                    or pa.types.is_large_string(column.type)
                    or pa.types.is_dictionary(column.type)
                ):
                    found |= {str(v) for v in column.to_pylist()}
        elif path.suffix == ".json":
            found |= {s for leaf in _leaves(json.loads(path.read_text())) for s in _text_strings(leaf)}
        elif path.suffix == ".pdf":
            found |= _text_strings(_pdf_text(path))
        elif path.suffix in {".html", ".svg"}:
            found |= _text_strings(path.read_text())
        elif path.is_file():
            pytest.fail(f"{path.name}: a run folder file this test does not read; add it here")
    return found


def _prefect_strings(flow_run_id) -> set[str]:
    """The flow run's name and parameters, and its artifacts, as the server returns them."""
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    found = {flow_run.name, *_leaves(flow_run.parameters)}
    for artifact in artifacts:
        found |= {
            s
            for leaf in _leaves([artifact.key, artifact.description, artifact.data])
            for s in _text_strings(leaf)
        }
    return found


def _linking_keys(candidates: set[str], ids: list[str], hashes: set[str]) -> set[str]:
    """The candidate strings that, as the key of HMAC-SHA256 (or as the salt of the former salted SHA-256),
    turn a candidate record id into a record hash of the artifacts: written independently of dynaudit."""
    encoded = [i.encode() for i in ids]
    linking = set()
    for candidate in candidates:
        key = candidate.encode()
        keyed = hmac.new(key, digestmod="sha256")
        for record in encoded:
            mac = keyed.copy()
            mac.update(record)
            salted = hashlib.sha256(key + b"\x00" + record).hexdigest()[:16]
            if mac.hexdigest()[:16] in hashes or salted in hashes:
                linking.add(candidate)
                break
    return linking


def _flow_audit(tmp: Path, name: str) -> Run:
    """An audit through the flow in this process, without an id_salt."""
    config = AuditConfig(run_name=name, output_dir=tmp / "out", cache_dir=tmp / "cache", **SMALL)
    state = audit(config, return_state=True)
    assert state.is_completed(), state.message
    return Run(state.result(), state.state_details.flow_run_id)


def _cli_audit(dynaudit, tmp: Path, name: str, **settings) -> Run:
    """``dynaudit audit`` on a YAML config, as a user runs it; its terminal output is kept."""
    config = {**SMALL, "run_name": name, "output_dir": "out", "cache_dir": "cache", **settings}
    (tmp / f"{name}.yaml").write_text(yaml.safe_dump(config))
    done = dynaudit(["audit", f"{name}.yaml"], cwd=tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    with get_client(sync_client=True) as client:
        [flow_run] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=f"audit-{name}-"))
        )
    return Run((tmp / "out" / name / "latest").resolve(), flow_run.id, done.stdout + done.stderr)


@pytest.fixture(scope="module")
def runs(dynaudit, tmp_path_factory) -> dict[str, Run]:
    """One audit through the flow with a random record key (no id_salt), one through the CLI with the user's
    id_salt; both with a keyed DynaNoise given in clear."""
    tmp = tmp_path_factory.mktemp("privacy")
    return {
        "random": _flow_audit(tmp, "random"),
        "id_salt": _cli_audit(dynaudit, tmp, "salted", id_salt=SALT),
    }


@pytest.fixture(scope="module")
def candidate_ids() -> list[str]:
    """Every record id of the data set: the attacker's candidates (the demo's ids are guessable)."""
    data = load_audit_data(AuditConfig())
    return [str(i) for split in data.splits().values() for i in split.ids]


@pytest.mark.slow  # two small audits through the flow, then about 2 x 10 million HMACs
def test_no_string_in_any_artifact_links_a_record_hash_to_a_record(runs, candidate_ids):
    hashes = {}
    for source, run in runs.items():
        scores = pq.read_table(run.run_dir / "scores.parquet").column("record").to_pylist()
        hashes[source] = set(scores)
        strings = _file_strings(run.run_dir) | _prefect_strings(run.flow_run_id)
        assert len(strings) > 1000 and set(scores) <= strings, "the collection sees the artifacts' hashes"
        assert _linking_keys(strings, candidate_ids, hashes[source]) == set(), source
        manifest = json.loads((run.run_dir / "manifest.json").read_text())
        assert manifest["record_ids"]["key"] == source
        html = (run.run_dir / "report.html").read_text()
        assert f"under {'your secret id_salt' if source == 'id_salt' else 'a random key'}" in html
        assert READERS in html
    assert _linking_keys({SALT}, candidate_ids, hashes["id_salt"]) == {SALT}, "the attack works with the key"
    assert not hashes["random"] & hashes["id_salt"], "a random key names no record as the user's key does"


@pytest.mark.slow  # shares the two audits of the test above
def test_neither_the_salt_nor_the_key_is_in_clear_anywhere(runs, prefect_server_home):
    APILogWorker.drain_all()
    EventsWorker.drain_all()
    with get_client(sync_client=True) as client:
        parameters = client.read_flow_run(runs["id_salt"].flow_run_id).parameters["config"]
    assert parameters["id_salt"] == "**********" and parameters["defenses"][0]["key"] == "**********"
    places = {"terminal": runs["id_salt"].terminal.encode()}
    for run in runs.values():
        for path in run.run_dir.rglob("*"):
            places[str(path)] = _pdf_text(path).encode() if path.suffix == ".pdf" else path.read_bytes()
    for path in prefect_server_home.rglob("*"):  # prefect.db (and its write-ahead log), server.log
        if path.is_file():
            places[str(path)] = path.read_bytes()
    assert any(p.endswith("prefect.db") for p in places) and len(places["terminal"]) > 0
    for secret in (SALT, KEY):
        assert [p for p, content in places.items() if secret.encode() in content] == [], secret


@pytest.mark.slow  # dynaudit serve in a subprocess, then one served audit
def test_a_served_config_with_a_key_and_a_secret_block_salt_completes_a_run(
    start_dynaudit, tmp_path, candidate_ids, prefect_server_home
):
    Secret(value=BLOCK_SALT).save("privacy-test-id-salt", overwrite=True)
    config = {**SMALL, "run_name": "served", "id_salt": {"prefect_secret": "privacy-test-id-salt"}}
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "keyed.yaml").write_text(
        yaml.safe_dump({**config, "output_dir": "out", "cache_dir": "cache"})
    )
    log = tmp_path / "serve.log"
    process = start_dynaudit(["serve", "configs"], tmp_path, log, PREFECT_RUNNER_POLL_FREQUENCY="2")
    try:
        with get_client(sync_client=True) as client:
            served = _wait_for(
                "the keyed deployment",
                lambda: _served_deployments(client, ["dynaudit-audit/keyed"]),
                180,
                process,
                log,
            )["dynaudit-audit/keyed"]
            stored = served.parameters["config"]
            assert stored["id_salt"] == {"prefect_secret": "privacy-test-id-salt"}
            assert set(stored["defenses"][0]["key"]) == {"env"}, stored["defenses"][0]
            run = client.create_flow_run_from_deployment(served.id)
            run = _wait_for(
                "the served run to finish",
                lambda: (r := client.read_flow_run(run.id)).state.is_final() and r,
                300,
                process,
                log,
            )
        assert run.state.is_completed(), run.state.message
    finally:
        _stop(process)
    run_dir = (tmp_path / "out" / "served" / "latest").resolve()
    records = set(pq.read_table(run_dir / "scores.parquet").column("record").to_pylist())
    assert _linking_keys({BLOCK_SALT}, candidate_ids, records) == {BLOCK_SALT}, (
        "the block's salt keyed the ids"
    )
    time.sleep(1)  # the server's last writes
    for path in [*prefect_server_home.rglob("*"), log, *run_dir.rglob("*.parquet"), run_dir / "report.html"]:
        if path.is_file():
            content = path.read_bytes()
            assert KEY.encode() not in content and BLOCK_SALT.encode() not in content, path


def test_secret_references_resolve_from_a_prefect_block_and_the_environment(prefect_api_url, monkeypatch):
    Secret(value=BLOCK_SALT).save("privacy-test-reference", overwrite=True)
    monkeypatch.setenv("PRIVACY_TEST_KEY", KEY)
    config = AuditConfig(
        id_salt={"prefect_secret": "privacy-test-reference"},
        defenses=[{"name": "dynanoise", "noise_mode": "per_input", "key": {"env": "PRIVACY_TEST_KEY"}}],
    )
    ready = resolved(config)
    assert ready.id_salt.get_secret_value() == BLOCK_SALT
    assert ready.defenses[0].defense(ready.seed).key == KEY.encode()
    assert config.model_dump(mode="json")["id_salt"] == {"prefect_secret": "privacy-test-reference"}
    missing = config.model_copy(update={"id_salt": PrefectSecret(prefect_secret="no-such-block")})
    with pytest.raises(ConfigError, match=r"^Prefect Secret block 'no-such-block' does not exist on this"):
        resolved(missing)
    monkeypatch.delenv("PRIVACY_TEST_KEY")
    with pytest.raises(
        ConfigError, match=r"^defenses\.0\.key names environment variable PRIVACY_TEST_KEY, wh"
    ):
        resolved(config)

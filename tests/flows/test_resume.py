"""Kill an audit while its reference models train; the rerun takes the finished ones from the cache."""

import json
import time

import pytest
import yaml

CONFIG = {
    "run_name": "resume",
    "recipe": {"epochs": 20},
    "data": {"n_members": 80, "n_non_members": 80, "n_population": 200},
    "reference_models": 4,
    "trainer": "loop",  # one model at a time, each cached when done (batched caches whole groups)
    "attacks": ["loss", "lira_offline"],
    "knowledge": ["naive"],
    "max_queries": 1,
    "cache_dir": "cache",
    "output_dir": "out",
}
TOTAL = 1 + 4  # one shadow model, then the reference models (what the manifest counts)
CACHED = 1 + TOTAL  # and the target, trained and cached before them


@pytest.mark.slow
def test_a_killed_run_resumes_with_the_models_it_finished(start_dynaudit, dynaudit, tmp_path):
    (tmp_path / "resume.yaml").write_text(yaml.safe_dump(CONFIG))
    models = tmp_path / "cache" / "models"
    log = tmp_path / "killed.log"
    process = start_dynaudit(["audit", "resume.yaml"], tmp_path, log)
    deadline = time.monotonic() + 300
    while len(list(models.glob("*.safetensors"))) < 3:  # the target, the shadow model and a reference model
        assert process.poll() is None, f"the audit ended before it was killed:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no models were cached:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)
    process.kill()
    process.wait()
    finished = len(list(models.glob("*.safetensors"))) - 1  # less the target
    assert finished < TOTAL, "killed too late: every model was already trained"
    assert not (tmp_path / "out" / "resume").exists(), "a killed run leaves no run folder"

    rerun = dynaudit(["audit", "resume.yaml"], tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    manifest = json.loads((tmp_path / "out" / "resume" / "latest" / "manifest.json").read_text())
    assert manifest["model_cache"] == {
        "shadow": {"trained": 0, "reused": 1},
        "reference": {"trained": TOTAL - finished, "reused": finished - 1},
    }
    assert f"trained {TOTAL - finished}, reused {finished} from the cache" in rerun.stdout
    assert len(list(models.glob("*.safetensors"))) == CACHED

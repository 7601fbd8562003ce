"""Object-store credentials from a Prefect Secret block named by the config, on the session's real Prefect
server; a missing or malformed block is one sentence."""

import os

import pytest
from prefect.blocks.system import Secret

from audit_core.config import parse_config
from audit_core.core.errors import AuditInputError
from audit_core.results.artifacts import check_output_dir
from flows.credentials import use_storage_credentials

KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def test_a_secret_block_sets_the_stores_credentials(prefect_api_url, s3_bucket, monkeypatch):
    Secret(value={"AWS_ACCESS_KEY_ID": "from-block", "AWS_SECRET_ACCESS_KEY": "block-secret"}).save(
        "s3-audits", overwrite=True
    )
    for key in KEYS:
        monkeypatch.delenv(key)
    config = parse_config({"output_dir": f"{s3_bucket}/out", "storage_credentials": "s3-audits"})
    assert "block-secret" not in config.model_dump_json(), "the config holds the block's name only"
    use_storage_credentials(config)
    assert [os.environ[key] for key in KEYS] == ["from-block", "block-secret"]
    check_output_dir(config.output_dir)  # moto accepts any key pair; the bucket is reached


@pytest.mark.parametrize(
    ("name", "value", "sentence"),
    [
        ("absent", None, "storage_credentials: no Prefect Secret block named 'absent'; create it"),
        ("plain", "just a string", "storage_credentials: Secret block 'plain' must hold a JSON object"),
    ],
)
def test_a_missing_or_malformed_block_is_one_sentence(prefect_api_url, name, value, sentence):
    if value is not None:
        Secret(value=value).save(name, overwrite=True)
    config = parse_config({"storage_credentials": name})
    with pytest.raises(AuditInputError) as refused:
        use_storage_credentials(config)
    assert str(refused.value).startswith(sentence) and str(refused.value).count(". ") == 0

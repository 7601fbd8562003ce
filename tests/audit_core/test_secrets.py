"""Secrets in a config (``id_salt``, DynaNoise's ``key``) and the keyed record ids they produce."""

import hashlib
import hmac

import numpy as np
import pytest
from pydantic import SecretStr

from audit_core.config import AuditConfig, parse_config
from audit_core.config.secrets import EnvSecret, PrefectSecret
from audit_core.core.errors import ConfigError
from audit_core.core.record_ids import RecordKey
from audit_core.results.provenance import record_key

SALT = "a salt only the user knows"
KEY = "a dynanoise key of 32 characters"
PER_INPUT = {"name": "dynanoise", "noise_mode": "per_input"}


def test_secrets_in_clear_are_masked_in_every_dump_and_repr():
    config = parse_config({"id_salt": SALT, "defenses": [{**PER_INPUT, "key": KEY}]})
    assert isinstance(config.id_salt, SecretStr) and config.id_salt.get_secret_value() == SALT
    for shown in (repr(config), str(config), config.model_dump_json(), str(config.model_dump(mode="json"))):
        assert SALT not in shown and KEY not in shown
    dumped = config.model_dump(mode="json")
    assert dumped["id_salt"] == dumped["defenses"][0]["key"] == "**********"
    assert parse_config({"id_salt": ""}).id_salt is None and AuditConfig().id_salt is None


@pytest.mark.parametrize(
    ("fields", "sentence"),
    [
        (
            {"id_salt": "**********"},
            "field 'id_salt' is invalid: is the mask '**********' that Prefect shows",
        ),
        ({"defenses": [{**PER_INPUT, "key": "**********"}]}, "is the mask '**********' that Prefect shows"),
        ({"defenses": [{**PER_INPUT, "key": KEY[:15]}]}, "key' is invalid: must be at least 16 bytes."),
        ({"id_salt": {"env": "1NOT_A_NAME"}}, "field 'id_salt.env' is invalid: String should match"),
        ({"id_salt": 12345}, "field 'id_salt' is invalid: Input should be a valid string."),
    ],
)
def test_a_bad_secret_is_refused_in_one_sentence_that_never_quotes_it(fields, sentence):
    with pytest.raises(ConfigError) as caught:
        parse_config(fields)
    message = str(caught.value)
    assert sentence in message and "\n" not in message
    assert KEY[:15] not in message and "12345" not in message and "1NOT_A_NAME" not in message


def test_references_are_kept_in_dumps_and_resolved_with_the_runs_environment(monkeypatch):
    config = parse_config(
        {"id_salt": {"env": "TEST_ID_SALT"}, "defenses": [{**PER_INPUT, "key": {"prefect_secret": "k"}}]}
    )
    assert config.id_salt == EnvSecret(env="TEST_ID_SALT")
    assert config.model_dump(mode="json")["defenses"][0]["key"] == {"prefect_secret": "k"}
    assert config.defenses[0].condition_label(0) == "dynanoise(sigma0_sq=0.3, lam=2, T=10, per_input)"
    monkeypatch.setenv("TEST_ID_SALT", SALT)
    with pytest.raises(ConfigError, match=r"^defenses\.0\.key names Prefect Secret block 'k', which only a"):
        config.resolved()
    resolved = config.resolved(read_block={"k": KEY}.__getitem__)
    assert resolved.id_salt.get_secret_value() == SALT
    assert resolved.defenses[0].defense(0).key == KEY.encode()
    with pytest.raises(
        ConfigError, match=r"^defenses\.0: field 'key' is invalid: must be at least 16 bytes\.$"
    ):
        config.resolved(read_block=lambda name: "short")
    monkeypatch.delenv("TEST_ID_SALT")
    with pytest.raises(
        ConfigError, match=r"^id_salt names environment variable TEST_ID_SALT, which is not set"
    ):
        config.resolved(read_block={"k": KEY}.__getitem__)


def test_an_unresolved_reference_never_becomes_a_key():
    config = AuditConfig(defenses=[{**PER_INPUT, "key": PrefectSecret(prefect_secret="k")}])
    with pytest.raises(ConfigError, match="is still a reference"):
        config.defenses[0].defense(config.seed)
    with pytest.raises(ConfigError, match="is still a reference"):
        record_key(AuditConfig(id_salt={"env": "X"}))


def test_record_ids_are_hmac_sha256_under_the_salt_or_a_fresh_random_key():
    ids = np.array(["digits:0", "digits:1", "7"])
    expected = [hmac.new(SALT.encode(), i.encode(), hashlib.sha256).hexdigest()[:16] for i in ids]
    salted = record_key(parse_config({"id_salt": SALT}))
    assert salted.hash(ids).tolist() == expected and salted.source == "id_salt"
    assert record_key(parse_config({"id_salt": SALT})).hash(ids).tolist() == expected, "same key, same ids"
    first, second = record_key(AuditConfig()), record_key(AuditConfig())
    assert first.source == second.source == "random" and len(first.secret) == 32
    assert not set(first.hash(ids)) & (set(second.hash(ids)) | set(expected)), "each run draws its own key"
    assert first.secret.hex() not in repr(first) and first.describe() == second.describe()
    described = RecordKey(b"k" * 16, "id_salt").describe()
    assert described == {"hash": "HMAC-SHA256, first 16 hex digits", "key": "id_salt"}

import re

import pytest

from audit_core.config import AuditConfig, load_config, parse_config
from audit_core.errors import ConfigError


def test_defaults_are_the_demo_with_the_papers_dynanoise_parameters():
    config = AuditConfig()
    assert [d.model_dump() for d in config.defenses] == [
        {"name": "dynanoise", "sigma0_sq": 0.3, "lam": 2.0, "temperature": 10.0}
    ]
    expected = {"confidence", "loss", "shadow", "lira_online", "lira_offline", "rmia", "label_only"}
    assert expected <= set(config.attacks)
    assert config.knowledge == ["naive", "adaptive", "averaging"]


def test_the_shipped_demo_config_equals_the_defaults(tmp_path):
    from pathlib import Path

    shipped = load_config(Path(__file__).parents[2] / "configs" / "demo.yaml")
    assert shipped == AuditConfig()


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("run_name: a/b\n", "field 'run_name' = 'a/b' is invalid: must be 1-100 letters"),
        ("attacks: [loss, lira2]\n", "unknown attack 'lira2'"),
        ("defenses:\n  - name: dynanoise\n    temperature: -1\n", "'defenses.0.dynanoise.temperature' = -1"),
        ("defenses:\n  - name: memguard\n", "field 'defenses.0'"),
        ("sed: 3\n", "unknown field 'sed'"),
        ("- just\n- a list\n", "expected a mapping of AuditConfig fields, got list"),
        ("seed: [unclosed\n", "is not valid YAML at line"),
        ("attacks: []\n", "field 'attacks'"),
        ("reference_models: 5\n", "field 'reference_models' = 5 is invalid: must be 0 or an even number"),
        ("attack_params: {rmia: {gama: 2}}\n", "attack_params.rmia has unknown parameter 'gama'"),
        ("knowledge: [psychic]\n", "field 'knowledge.0' = 'psychic' is invalid"),
    ],
)
def test_invalid_configs_get_one_sentence_naming_the_field(tmp_path, yaml_text, expected):
    path = tmp_path / "audit.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message and str(path) in message


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist; expected a YAML file"):
        load_config(tmp_path / "nope.yaml")


def test_parse_config_accepts_a_mapping():
    assert parse_config({"seed": 3}).seed == 3


def test_a_schedule_block_is_validated_and_optional(tmp_path):
    assert AuditConfig().schedule is None
    path = tmp_path / "nightly.yaml"
    path.write_text("schedule:\n  cron: '0  2 * * *'\n  timezone: Europe/Berlin\n")
    schedule = load_config(path).schedule
    assert (schedule.cron, schedule.timezone, schedule.active) == ("0 2 * * *", "Europe/Berlin", True)
    for text, expected in [
        ("schedule: {cron: '0 2 * *'}\n", "field 'schedule.cron' = '0 2 * *' is invalid: must have five"),
        ("schedule: {cron: '0 2 * * *', timezone: Mars/Base}\n", "must be an IANA time zone name"),
        ("schedule: {timezone: UTC}\n", "required field 'schedule.cron' is missing"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(expected)):
            load_config(path)


def test_run_labels_name_the_model_and_digest_only_what_shapes_the_numbers(tmp_path):
    config = AuditConfig()
    assert config.run_label.startswith("demo-trained-mlp-") and len(config.run_label.split("-")[-1]) == 8
    moved = AuditConfig(output_dir=tmp_path, schedule={"cron": "0 2 * * *"})
    assert moved.run_label == config.run_label
    retrained = AuditConfig(recipe={"epochs": 20})
    assert retrained.run_label != config.run_label

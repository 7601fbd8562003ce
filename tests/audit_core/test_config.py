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

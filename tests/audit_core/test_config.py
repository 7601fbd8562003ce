import re
from pathlib import Path

import pytest

from audit_core.config import (
    DEMO_DEFENSES,
    DEMO_SETTINGS,
    AuditConfig,
    DaskRunnerConfig,
    TuneConfig,
    load_config,
    parse_config,
)
from audit_core.config.strict_yaml import RepeatedKeyError, load_yaml
from audit_core.core.errors import ConfigError
from audit_core.defenses import DEFENSES


def test_defaults_use_the_papers_dynanoise_parameters():
    config = AuditConfig()
    assert [d.model_dump(exclude={"key"}) for d in config.defenses] == [
        {
            "name": "dynanoise",
            "sigma0_sq": 0.3,
            "lam": 2.0,
            "temperature": 10.0,
            "noise_mode": "per_query",
            "ensemble_size": 1,
        }
    ]
    expected = {"confidence", "loss", "shadow", "lira_online", "lira_offline", "rmia", "label_only"}
    assert expected <= set(config.attacks)
    assert config.knowledge == ["naive", "adaptive", "averaging"]
    assert config.tune is None


def test_the_shipped_demo_config_is_the_embedded_demo():
    shipped = load_config(Path(__file__).parents[2] / "configs" / "demo.yaml")
    assert shipped == parse_config(DEMO_SETTINGS)
    assert {d.name for d in shipped.defenses} == set(DEFENSES) - {"undefended"}


def test_the_shipped_dask_demo_is_the_demo_on_a_local_dask_cluster():
    configs = Path(__file__).parents[2] / "configs"
    dask = load_config(configs / "demo-dask.yaml")
    assert dask.runner == DaskRunnerConfig(n_workers=2, threads_per_worker=1)
    assert dask.model_copy(update={"run_name": "demo", "runner": AuditConfig().runner}) == load_config(
        configs / "demo.yaml"
    )
    assert dask.run_label.replace("demo-dask", "demo") == load_config(configs / "demo.yaml").run_label


def test_every_configured_defense_builds_its_registered_class():
    config = parse_config({"defenses": DEMO_DEFENSES})
    for defense_config in config.defenses:
        defense = defense_config.defense(seed=0)
        assert type(defense) is DEFENSES[defense_config.name]
        shown = defense_config.model_dump(exclude={"name", "key", "noise_mode", "ensemble_size"})
        assert {k: defense.params()[k] for k in shown} == shown


def test_the_dynanoise_key_is_secret_and_derived_from_the_seed_when_absent():
    config = parse_config({"defenses": [{"name": "dynanoise", "noise_mode": "per_input", "key": "k" * 20}]})
    assert config.model_dump(mode="json")["defenses"][0]["key"] == "**********"
    assert config.defenses[0].defense(seed=0).key == b"k" * 20
    derived = parse_config({"defenses": [{"name": "dynanoise", "noise_mode": "per_input"}]}).defenses[0]
    assert derived.defense(seed=0).key == derived.defense(seed=0).key
    assert derived.defense(seed=0).key != derived.defense(seed=1).key


def test_tune_section_defaults():
    tune = parse_config({"tune": {}}).tune
    assert tune == TuneConfig()
    assert (tune.objective, tune.knowledge, tune.mode, tune.noise_mode) == (
        "midput",
        "adaptive",
        "optuna",
        "per_input",
    )


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("run_name: a/b\n", "field 'run_name' = 'a/b' is invalid: must be 1-100 letters"),
        ("attacks: [loss, lira2]\n", "unknown attack 'lira2'"),
        ("defenses:\n  - name: dynanoise\n    temperature: -1\n", "'defenses.0.temperature' = -1"),
        ("defenses:\n  - name: dp_sgd\n", "field 'defenses.0.name' = 'dp_sgd' is invalid: expected one of"),
        ("defenses:\n  - name: dynanoise\n    key: short\n", "'defenses.0.key'"),
        ("defenses:\n  - name: memguard\n    distortion_budget: 3\n", "distortion_budget' = 3"),
        ("tune:\n  budget: 1.5\n", "field 'tune.budget' = 1.5 is invalid"),
        ("tune:\n  knowledge: psychic\n", "field 'tune.knowledge' = 'psychic' is invalid"),
        ("tune:\n  lam_range: [3, 1]\n", "field 'tune.lam_range' is invalid"),
        ("tune:\n  objective: auc\n", "field 'tune.objective' = 'auc' is invalid"),
        ("sed: 3\n", "unknown field 'sed'; did you mean 'seed'? the top level takes run_name, seed, data,"),
        (
            "data: {kind: table, members: m, non_members: n, population: p, test: t, lbl: y}\n",
            "unknown field 'data.lbl'; did you mean 'label'? data of kind 'table' takes members,",
        ),
        (
            "runner: {kind: dask, adress: x}\n",
            "unknown field 'runner.adress'; did you mean 'address'? runner of",
        ),
        ("recipe: {zzz: 1}\n", "unknown field 'recipe.zzz'; recipe takes "),
        (
            "defenses:\n  - kind: hamp\n",
            "field 'defenses.0' has no 'name'; expected one of 'dynanoise', 'hamp',",
        ),
        (
            "data: {kind: csv}\n",
            "field 'data.kind' = 'csv' is invalid: expected one of 'demo', 'table', 'npz',",
        ),
        (
            "data: {kind: table, members: m.csv}\n",
            "required field 'data.non_members' is missing; expected records of the same distribution the "
            "target never saw.",
        ),
        (
            "data: {kind: table, members: m.csv, non_members: n.csv}\n",
            "required field 'data.population' is missing; expected further records of the members' "
            "distribution, neither members nor non-members, that the attacker trains reference and shadow "
            "models on (hold some of your non-members out for them).",
        ),
        ("target: {kind: onnx}\n", "required field 'target.path' is missing; expected the ONNX model file."),
        ("- just\n- a list\n", "expected a mapping of AuditConfig fields, got list"),
        ("seed: [unclosed\n", "is not valid YAML at line"),
        (
            "seed: 1\nreference_models: 4\nreference_models: 16\n",
            "has the key 'reference_models' twice, on lines 2 and 3; expected each key once",
        ),
        ("tune:\n  budget: 0.02\n  seed: 1\n  budget: 0.5\n", "has the key 'budget' twice, on lines 2 and 4"),
        ("attacks: []\n", "field 'attacks'"),
        ("reference_models: 5\n", "field 'reference_models' = 5 is invalid: must be 0 or an even number"),
        ("attack_params: {rmia: {gama: 2}}\n", "attack_params.rmia has unknown parameter 'gama'"),
        (
            "attack_params: {boundary: {calibration_records: 0}}\n",
            "attack_params.boundary: calibration_records = 0; expected at least 1",
        ),
        (
            "attack_params: {qmia: {fpr: 5.0}}\n",
            "attack_params.qmia: fpr = 5.0; expected a rate between 0 and 1",
        ),
        ("attack_params: {rmia: {a: 1.5}}\n", "attack_params.rmia: a = 1.5; expected a number from 0 to 1"),
        ("attack_params: {lira_online: {min_std: 0.0}}\n", "lira_online: min_std = 0.0; expected a positive"),
        (
            "attack_params: {boundary: {max_queries: 8}}\n",
            "attack_params.boundary: max_queries = 8; expected at least one query per direction",
        ),
        ("knowledge: [psychic]\n", "field 'knowledge.0' = 'psychic' is invalid"),
        (
            "runner: {kind: ray}\n",
            "field 'runner.kind' = 'ray' is invalid: expected one of 'threads', 'dask'.",
        ),
        ("runner: {kind: dask, address: 'h:8786'}\n", "must be a Dask scheduler address such as tcp://"),
        ("runner: {kind: dask, n_workers: 0}\n", "field 'runner.n_workers' = 0 is invalid"),
        (
            "runner: {kind: dask, address: 'tcp://h:8786', threads_per_worker: 2}\n",
            "give either address (an existing scheduler) or threads_per_worker (a local cluster), not both",
        ),
        ("runner: {kind: dask}\ntrainer: processes\n", "trainer 'processes' cannot run on Dask workers"),
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


def test_a_key_that_a_merge_brings_in_may_be_overridden():
    text = "base: &b {budget: 0.05, seed: 3}\ntune:\n  <<: *b\n  budget: 0.01\n"
    assert load_yaml(text)["tune"] == {"budget": 0.01, "seed": 3}
    with pytest.raises(RepeatedKeyError):
        load_yaml(text + "  seed: 4\n  seed: 5\n")


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

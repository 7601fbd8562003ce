"""One source per constant: defense configs from the defense classes, attacker knowledge as one enum, the
paper's settings named once; and one label per configured condition."""

from dataclasses import fields

import pandas as pd
import pytest
import yaml
from pydantic import SecretStr

from audit_core.config import (
    DEFENSE_CONFIGS,
    DEMO_DEFENSES,
    PAPER_CENTRE,
    PAPER_SETTING,
    AuditConfig,
    parse_config,
)
from audit_core.core.errors import ConfigError
from audit_core.core.knowledge import Knowledge
from audit_core.defenses import BOUNDS, DEFENSES, MIN_KEY_BYTES, DynaNoise, Undefended
from audit_core.tuning.search import paper_grid
from flows import cli

CONFIGURABLE = [cls for cls in DEFENSES.values() if cls is not Undefended]
BOUNDED = [
    (cls, f, bound, limit)
    for cls in CONFIGURABLE
    for f in fields(cls)
    for bound, limit in f.metadata.items()
    if bound in BOUNDS
]


def _schema_of(name: str) -> dict:
    schema = AuditConfig.model_json_schema()
    ref = schema["properties"]["defenses"]["items"]["discriminator"]["mapping"][name]
    return schema["$defs"][ref.rpartition("/")[2]]["properties"]


def test_every_registered_defense_but_undefended_is_configurable():
    assert set(DEFENSE_CONFIGS) == set(DEFENSES) - {"undefended"}
    for cls in CONFIGURABLE:
        assert list(DEFENSE_CONFIGS[cls.name].model_fields) == ["name", *(f.name for f in fields(cls))]


@pytest.mark.parametrize("cls", CONFIGURABLE, ids=lambda cls: cls.name)
def test_the_form_shows_the_defaults_bounds_and_descriptions_the_class_declares(cls):
    shown = _schema_of(cls.name)
    assert shown["name"]["const"] == cls.name
    for f in fields(cls):
        if f.name == "key":
            continue
        number = next((s for s in shown[f.name].get("anyOf", []) if s["type"] != "null"), shown[f.name])
        assert shown[f.name]["default"] == f.default
        assert shown[f.name]["description"] == f.metadata["description"]
        names = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum"}
        assert {names[b]: number[names[b]] for b in BOUNDS if names[b] in number} == {
            names[b]: f.metadata[b] for b in BOUNDS if b in f.metadata
        }
    assert DEFENSE_CONFIGS[cls.name]().defense(seed=0).params() == cls().params()


@pytest.mark.parametrize(
    ("cls", "f", "bound", "limit"), BOUNDED, ids=[f"{c.name}.{f.name}.{b}" for c, f, b, _ in BOUNDED]
)
def test_a_bound_is_refused_by_the_class_and_by_the_config_alike(cls, f, bound, limit):
    outside = limit + 1 if bound == "le" else limit - 1 if bound == "ge" else limit
    with pytest.raises(ValueError, match=rf"{cls.__name__} needs {f.name} {BOUNDS[bound][1]} {limit:g}"):
        cls(**{f.name: outside})
    with pytest.raises(ConfigError, match=rf"field 'defenses\.0\.{f.name}' = {outside!r}"):
        parse_config({"defenses": [{"name": cls.name, f.name: outside}]})
    cls(**{f.name: limit if bound != "gt" else limit + 0.5})  # on (or just inside) the bound is fine


def test_the_dynanoise_key_stays_a_secret_of_min_key_bytes():
    shown = _schema_of("dynanoise")["key"]
    assert shown["default"] is None and f"{MIN_KEY_BYTES}+ characters" in shown["description"]
    key = "k" * MIN_KEY_BYTES
    config = parse_config({"defenses": [{"name": "dynanoise", "key": key}]}).defenses[0]
    assert isinstance(config.key, SecretStr) and key not in repr(config)
    with pytest.raises(ConfigError, match=f"must be at least {MIN_KEY_BYTES} bytes"):
        parse_config({"defenses": [{"name": "dynanoise", "key": key[1:]}]})


def test_knowledge_values_are_the_enum_and_still_plain_strings_everywhere(tmp_path):
    config = parse_config({"knowledge": ["averaging", "naive"], "tune": {"knowledge": "naive"}})
    assert config.knowledge == [Knowledge.AVERAGING, Knowledge.NAIVE] == ["averaging", "naive"]
    assert config.tune.knowledge is Knowledge.NAIVE and AuditConfig().knowledge == list(Knowledge)
    dumped = config.model_dump(mode="json")
    assert yaml.safe_load(yaml.safe_dump(dumped))["knowledge"] == ["averaging", "naive"]
    pd.DataFrame({"knowledge": config.knowledge}).to_parquet(tmp_path / "k.parquet")
    read = pd.read_parquet(tmp_path / "k.parquet")["knowledge"].tolist()
    assert read == ["averaging", "naive"] and all(type(k) is str for k in read)


def test_the_form_lists_the_three_knowledge_values_in_place():
    schema = AuditConfig.model_json_schema()
    values = [k.value for k in Knowledge]
    assert values == ["naive", "adaptive", "averaging"]
    assert schema["properties"]["knowledge"]["items"] == {"enum": values, "type": "string"}
    tune = schema["$defs"]["TuneConfig"]["properties"]["knowledge"]
    assert (tune["enum"], tune["default"], tune["title"]) == (values, "adaptive", "Knowledge")
    assert schema["$defs"]["GatePolicy"]["properties"]["knowledge"]["enum"] == ["strongest", *values]
    with pytest.raises(ConfigError, match="Input should be 'naive', 'adaptive' or 'averaging'"):
        parse_config({"knowledge": ["psychic"]})


def test_the_papers_dynanoise_setting_is_the_default_and_the_demos():
    assert PAPER_SETTING == {"sigma0_sq": 0.3, "lam": 2.0, "temperature": 10.0}
    assert {name: getattr(DynaNoise(), name) for name in PAPER_SETTING} == PAPER_SETTING
    assert DEMO_DEFENSES[0] == {"name": "dynanoise", **PAPER_SETTING}
    assert AuditConfig().defenses[0].defense(seed=0).label == "dynanoise(sigma0_sq=0.3, lam=2, T=10)"


def test_the_paper_grid_sweeps_around_the_papers_centre():
    grid = paper_grid()
    assert grid[0] == PAPER_CENTRE == {"sigma0_sq": 0.1, "lam": 2.0, "temperature": 6.0}
    assert all(sum(point[n] != PAPER_CENTRE[n] for n in PAPER_CENTRE) == 1 for point in grid[1:])


@pytest.mark.parametrize(
    ("defenses", "expected"),
    [
        (
            [{"name": "static_noise"}, {"name": "top_k"}, {"name": "static_noise", "sigma_sq": 1.0}],
            "defenses.2 repeats defenses.0 (static_noise(sigma_sq=1)).",
        ),
        ([{"name": "label_only"}, {"name": "label_only"}], "defenses.1 repeats defenses.0 (label_only)."),
        (
            [
                {"name": "dynanoise", "noise_mode": "per_input", "key": "a" * MIN_KEY_BYTES},
                {"name": "memguard"},
                {"name": "dynanoise", "noise_mode": "per_input"},
            ],
            "defenses.2 has the same label as defenses.0 (dynanoise(sigma0_sq=0.3, lam=2, T=10, per_input)), "
            "which names a condition in every table; make them differ in a parameter the label shows.",
        ),
    ],
)
def test_a_repeated_defense_or_label_fails_in_one_sentence_exit_2(
    defenses, expected, tmp_path, capsys, monkeypatch
):
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump({"defenses": defenses, "output_dir": str(tmp_path / "out")}))
    with pytest.raises(ConfigError) as caught:
        parse_config({"defenses": defenses})
    assert str(caught.value) == f"config: {expected}"
    monkeypatch.setattr(cli, "_run", lambda *_, **__: pytest.fail("a repeated defense reached the flow"))
    assert cli.main(["audit", str(path)]) == 2
    assert capsys.readouterr().err == f"dynaudit: {path}: {expected}\n"
    assert not (tmp_path / "out").exists()


def test_distinct_settings_of_one_defense_are_distinct_conditions():
    config = parse_config({"defenses": [{"name": "static_noise"}, {"name": "static_noise", "sigma_sq": 3}]})
    assert [d.defense(config.seed).label for d in config.defenses] == [
        "static_noise(sigma_sq=1)",
        "static_noise(sigma_sq=3)",
    ]

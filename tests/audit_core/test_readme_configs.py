"""The README's configs are valid AuditConfig fragments; the bring-your-own ones cover every kind."""

import re
from pathlib import Path

import yaml

from audit_core.config import parse_config
from audit_core.data import LOADERS
from audit_core.targets import OPENERS

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def _yaml_blocks(heading: str) -> list[dict]:
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, flags=re.S)]


def _byo_blocks() -> list[dict]:
    return _yaml_blocks("Bring your own model and data")


def test_every_readme_config_is_valid():
    blocks = _byo_blocks()
    assert len(blocks) >= 16
    for block in blocks:
        parse_config(block, source="README")


def test_the_readme_shows_every_target_data_shadow_and_reference_kind():
    kinds = {
        (section, body["kind"])
        for block in _byo_blocks()
        for section, body in block.items()
        if isinstance(body, dict) and "kind" in body
    }
    assert {("target", kind) for kind in OPENERS} <= kinds
    assert {("data", kind) for kind in LOADERS} <= kinds
    assert {("shadow", kind) for kind in ("auto", "function", "trained", "predictions", "none")} <= kinds
    reference_kinds = ("auto", "clone", "architecture", "function", "predictions", "recipe")
    assert {("references", kind) for kind in reference_kinds} <= kinds


def test_the_dask_section_shows_valid_runners_for_a_scheduler_and_a_local_cluster():
    blocks = _yaml_blocks("Running reference training on a Dask cluster")
    runners = [parse_config(block, source="README").runner for block in blocks]
    assert [(r.kind, r.address is None) for r in runners] == [("dask", False), ("dask", True)]

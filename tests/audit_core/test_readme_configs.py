"""The README's bring-your-own configs are valid AuditConfig fragments, and cover every kind."""

import re
from pathlib import Path

import yaml

from audit_core.config import parse_config
from audit_core.data import LOADERS
from audit_core.targets import OPENERS

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def _byo_blocks() -> list[dict]:
    section = README.split("## Bring your own model and data", 1)[1].split("\n## ", 1)[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, flags=re.S)]


def test_every_readme_config_is_valid():
    blocks = _byo_blocks()
    assert len(blocks) >= 16
    for block in blocks:
        parse_config(block, source="README")


def test_the_readme_shows_every_target_data_and_shadow_kind():
    kinds = {(section, body["kind"]) for block in _byo_blocks() for section, body in block.items()}
    assert {("target", kind) for kind in OPENERS} <= kinds
    assert {("data", kind) for kind in LOADERS} <= kinds
    assert {("shadow", kind) for kind in ("trained", "predictions", "none")} <= kinds

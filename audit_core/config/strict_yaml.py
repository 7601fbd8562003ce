"""YAML read as PyYAML's safe loader reads it, except that a key written twice in one mapping is refused.

PyYAML keeps the last of two equal keys without a word, so a config with a second ``policy:`` or
``reference_models:`` further down would be audited with half of what its author wrote. A key that a merge
(``<<: *defaults``) brings in may still be overridden: only the keys written in the mapping itself count.
"""

from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode

MERGE_TAG = "tag:yaml.org,2002:merge"


class RepeatedKeyError(yaml.YAMLError):
    """A mapping names the same key twice."""

    def __init__(self, key: Any, first_line: int, second_line: int) -> None:
        super().__init__(f"key {key!r} on lines {first_line} and {second_line}")
        self.key, self.first_line, self.second_line = key, first_line, second_line


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise RepeatedKeyError(key, seen[key], line)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """``text`` parsed as by ``yaml.safe_load``; :class:`RepeatedKeyError` for a key repeated in a mapping.

    >>> load_yaml("a: 1\\nb: 2")
    {'a': 1, 'b': 2}
    >>> load_yaml("a: 1\\na: 2")
    Traceback (most recent call last):
    ...
    audit_core.config.strict_yaml.RepeatedKeyError: key 'a' on lines 1 and 2
    """
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: builds plain data only

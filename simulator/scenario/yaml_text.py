"""Reading scenario YAML: a safe loader that refuses duplicate keys, one-line YAML error text,
and the line of each key in a document (for error messages)."""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Any

import yaml


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML loader that rejects duplicate mapping keys (PyYAML keeps the last silently)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep=False):
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, typing.Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _yaml_error_text(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"
    return f"malformed YAML at {where}: {problem}"


class _YamlLines:
    """Line numbers of keys in a YAML document, for error messages (1-based)."""

    def __init__(self, text: str, skip: Iterable[tuple[str, ...]] = ()):
        try:
            self._root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            self._root = None
        self._skip = [tuple(k) for k in skip]

    def __call__(self, loc: tuple[Any, ...]) -> int | None:
        """Line of the deepest node along ``loc`` (keys and list indices), or None."""
        path = tuple(str(p) for p in loc)
        if any(path[: len(k)] == k or k[: len(path)] == path for k in self._skip):
            return None  # the value came from an override, not from the file
        node, line = self._root, None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                        node, line = value, key.start_mark.line + 1
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return line
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line

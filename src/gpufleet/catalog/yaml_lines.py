"""YAML that remembers where things are, so an error can name the line of the key at fault.

Used by every hand-written file gpufleet reads (supplier files, planning scenarios). Duplicate
keys are errors: YAML would otherwise keep the last one silently.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode


class LineMap(dict[str, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str | None) -> int:
        """The line of ``key`` when present, else of the mapping itself."""
        return self.key_lines.get(key, self.line) if key else self.line


class LineLoader(yaml.SafeLoader):
    pass


# YAML 1.1 (PyYAML) reads ``1e6`` as text; YAML 1.2 and every person read it as a number.
LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def _construct_mapping(loader: LineLoader, node: MappingNode) -> LineMap:
    seen: set[str] = set()
    for key, _ in node.value:
        if not isinstance(key, ScalarNode):
            continue
        if key.value in seen:
            msg = f"duplicate key(s) {key.value}"
            raise yaml.constructor.ConstructorError(None, None, msg, key.start_mark)
        seen.add(key.value)
    mapping = LineMap({str(k): v for k, v in loader.construct_mapping(node, deep=True).items()})
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {
        str(k.value): k.start_mark.line + 1 for k, _ in node.value if isinstance(k, ScalarNode)
    }
    return mapping


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load(text: str) -> Any:
    """Parse YAML text; mappings come back as ``LineMap``. Raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=LineLoader)  # noqa: S506 - a SafeLoader subclass


def error_line_and_message(exc: yaml.YAMLError) -> tuple[int | None, str]:
    """Where a YAML syntax error is (1-based line, if known) and what it says."""
    mark = getattr(exc, "problem_mark", None)
    line = None if mark is None else mark.line + 1
    what = " ".join(
        str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p
    )
    return line, f"not valid YAML: {what or exc}"

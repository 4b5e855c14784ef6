"""Reading one mapping of a scenario file: typed values with errors that name the file, the line
and the key (``ScenarioError``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from gpufleet.catalog.problems import Problem
from gpufleet.catalog.yaml_lines import LineMap


class ScenarioError(ValueError):
    """A scenario file that cannot be used; ``problem`` names the file, line and key."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class FieldReader:
    """Reads values out of one mapping, raising ``ScenarioError`` that names file/line/key."""

    def __init__(self, path: Path, entry: LineMap, where: str, allowed: frozenset[str]) -> None:
        self.path, self.entry, self.where = path, entry, where
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise self.error(unknown[0], f"unknown key(s) {', '.join(unknown)}")

    def error(self, key: str | None, message: str) -> ScenarioError:
        field_name = f"{self.where}.{key}" if self.where and key else (key or self.where or None)
        return ScenarioError(Problem(str(self.path), self.entry.line_of(key), field_name, message))

    def get(self, key: str) -> Any:
        return self.entry.get(key)

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.entry.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.error(key, f"must be text, got {value!r}")
        return str(value)

    def number(
        self, key: str, default: float | None = None, *, low: float = 0.0, high: float = math.inf
    ) -> float | None:
        value = self.entry.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, got {value!r}")
        if not low <= value <= high or math.isnan(value):
            bounds = f">= {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
            raise self.error(key, f"must be {bounds}, got {value}")
        return float(value)

    def integer(self, key: str, default: int | None = None, *, low: int = 0) -> int | None:
        value = self.entry.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be a whole number, got {value!r}")
        if value < low:
            raise self.error(key, f"must be >= {low}, got {value}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.entry.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise self.error(key, f"must be a list of names, got {value!r}")
        return tuple(str(v) for v in value)

    def mapping(self, key: str) -> LineMap | None:
        value = self.entry.get(key)
        if value is None:
            return None
        if not isinstance(value, LineMap):
            raise self.error(key, f"must be a mapping, got {value!r}")
        return value

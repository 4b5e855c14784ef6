"""What went wrong while loading a catalog, said so a person can find and fix it.

Every problem names the file, the line and the field. Loaders either collect problems into a
``LoadReport`` and skip the bad row (the default), or raise ``CatalogError`` on the first one
(``strict``). Rows that are skipped on purpose (CPU-only instances, TPUs) are counted, not
reported as problems.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field


class ProblemKind(enum.StrEnum):
    MALFORMED = "malformed"
    """A value that cannot be read: a missing column, a non-number price, broken GpuInfo."""
    UNKNOWN_GPU = "unknown_gpu"
    """A GPU name that is not in the GPU model table. Reported, never silently dropped."""


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int | None
    field: str | None
    message: str
    kind: ProblemKind = ProblemKind.MALFORMED

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        what = f" [{self.field}]" if self.field else ""
        return f"{where}:{what} {self.message}"


class CatalogError(ValueError):
    """Raised for the first problem in strict mode, and for problems no row can be skipped past."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(slots=True)
class LoadReport:
    """What a load read, produced, skipped on purpose, and could not read."""

    strict: bool = False
    files: list[str] = field(default_factory=list)
    offers: int = 0
    problems: list[Problem] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    """Rows left out on purpose, by reason (``cpu-only instance``, ``TPU, not a GPU``...)."""
    adjusted: Counter[str] = field(default_factory=Counter)
    """Rows kept but corrected for a known catalog quirk, by quirk."""

    def problem(self, problem: Problem) -> None:
        """Record a problem; in strict mode, raise it."""
        if self.strict:
            raise CatalogError(problem)
        self.problems.append(problem)

    def problems_of(self, kind: ProblemKind) -> list[Problem]:
        return [p for p in self.problems if p.kind is kind]

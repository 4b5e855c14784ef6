"""What a pod asks for, and where it was put."""

from __future__ import annotations

from dataclasses import dataclass

MILLI_PER_GPU = 1000


@dataclass(frozen=True, slots=True)
class PlacementRequest:
    """A request for CPU, memory and GPUs on one node.

    ``gpu_milli`` is per GPU: with ``num_gpu == 1`` and ``gpu_milli < 1000`` the request asks for a
    fraction of one GPU; multi-GPU requests ask for whole GPUs (``gpu_milli == 1000``), as every
    multi-GPU pod in Alibaba's openb trace does. ``gpu_models`` restricts the GPU models allowed
    (openb's ``gpu_spec``, e.g. ``V100M16|V100M32``); ``None`` allows any.
    """

    cpu_milli: int
    memory_mib: int
    num_gpu: int = 0
    gpu_milli: int = 0
    gpu_models: frozenset[str] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        problems = []
        if self.cpu_milli < 0 or self.memory_mib < 0:
            problems.append("cpu_milli and memory_mib must be >= 0")
        if self.num_gpu < 0:
            problems.append(f"num_gpu must be >= 0, got {self.num_gpu}")
        if self.num_gpu == 0 and self.gpu_milli != 0:
            problems.append("gpu_milli must be 0 when num_gpu is 0")
        if self.num_gpu > 0 and not 0 < self.gpu_milli <= MILLI_PER_GPU:
            problems.append(f"gpu_milli must be in 1..{MILLI_PER_GPU}, got {self.gpu_milli}")
        if self.num_gpu > 1 and self.gpu_milli != MILLI_PER_GPU:
            problems.append("a multi-GPU request takes whole GPUs (gpu_milli 1000)")
        if self.gpu_models is not None and not self.gpu_models:
            problems.append("gpu_models must be None (any) or non-empty")
        if problems:
            where = f"request {self.name!r}: " if self.name else ""
            raise ValueError(where + "; ".join(problems))

    @property
    def total_gpu_milli(self) -> int:
        """GPU demand of the request in milli-GPUs (``num_gpu * gpu_milli``)."""
        return self.num_gpu * self.gpu_milli

    @property
    def is_fractional(self) -> bool:
        """Asks for a share of one GPU."""
        return self.num_gpu == 1 and self.gpu_milli < MILLI_PER_GPU

    @property
    def shape(self) -> tuple[int, int, int, frozenset[str] | None]:
        """What placement scores depend on: CPU, GPU count, per-GPU milli, allowed models.

        Memory is only a feasibility filter in every strategy, so it is not part of the shape.
        """
        return (self.cpu_milli, self.num_gpu, self.gpu_milli, self.gpu_models)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a request goes: a node index, the GPU indices on it, and the milli taken per GPU."""

    node: int
    gpus: tuple[int, ...] = ()
    gpu_milli: int = 0

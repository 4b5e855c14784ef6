"""Typed access to numba's ``njit`` for the placement kernels.

Kernels are compiled on first use and cached on disk (``cache=True``), so only the first run on
a machine pays the compile time. numba has no type stubs; this wrapper keeps the kernels' own
signatures visible to mypy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., object])


def njit(fn: F) -> F:
    return cast("F", numba.njit(cache=True, nogil=True)(fn))

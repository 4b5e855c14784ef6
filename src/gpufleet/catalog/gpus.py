"""The GPU model table: canonical ids, every known alias, families, and name resolution.

The table lives in ``data/gpu_models.yaml`` (one entry per model, each figure cited to the
vendor's datasheet). Names are matched on a normalised key — lower case, letters and digits only —
so ``NVIDIA A100-SXM4-80GB``, ``a100 sxm4 80gb`` and ``A100_SXM4_80GB`` are one name.

Resolution guarantees:

* every alias maps to exactly one model (checked when the table loads);
* a bare family name used by a price catalog (``H100``, ``A100``, ``V100``) maps to the family's
  default model, and ``refine`` may move it to a sibling on evidence: a form-factor token in the
  instance type (``pcie``, ``nvl``, ``sxm5``) or the per-GPU memory the supplier reports;
* an unknown name is an error with close matches, never a silent drop.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import yaml

from gpufleet.domain.gpu import NUMERIC_SPECS, GpuModel

_TEXT_FIELDS = ("architecture", "form_factor", "memory_type", "interconnect")
_REQUIRED = ("id", "vendor", "family", "name", "sources", "aliases")
_VENDOR_WORDS = ("nvidia", "tesla", "geforce", "quadro", "amd", "instinct", "intel", "habana")
_FORM_TOKENS: Mapping[str, str] = {
    "pcie": "pcie",
    "nvl": "nvl",
    "sxm": "sxm",
    "sxm4": "sxm",
    "sxm5": "sxm",
    "sxm6": "sxm",
}
_MEMORY_MATCH_TOLERANCE = 0.10
"""Reported memory within 10% of a model's datasheet memory counts as that model (NVML reports
a little less than the nominal size, e.g. 81,559 MiB for an 80 GiB H100)."""


def name_key(name: str) -> str:
    """Normalised matching key of a GPU name: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _without_vendor_words(name: str) -> str:
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w and w not in _VENDOR_WORDS]
    return "".join(words)


class UnknownGpuError(KeyError):
    """A GPU name that is not in the table; the message offers the closest known names."""

    def __init__(self, name: str, suggestions: Iterable[str]) -> None:
        self.name = name
        self.suggestions = tuple(suggestions)
        hint = f" Did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown GPU model {name!r}.{hint}")

    def __str__(self) -> str:
        return str(self.args[0])


class GpuTable:
    """All known GPU models with alias and family look-ups (immutable after construction)."""

    def __init__(self, models: Iterable[GpuModel]) -> None:
        self.models: tuple[GpuModel, ...] = tuple(models)
        self._keys: dict[str, str] = {}
        for model in self.models:
            for name in (model.id, *model.aliases):
                owner = self._keys.setdefault(name_key(name), model.id)
                if owner != model.id:
                    msg = f"GPU name {name!r} is claimed by both {owner} and {model.id}"
                    raise ValueError(msg)
        self._ids: dict[str, GpuModel] = {m.id: m for m in self.models}
        if len(self._ids) != len(self.models):
            msg = "GPU model ids must be unique"
            raise ValueError(msg)
        families: dict[str, list[GpuModel]] = {}
        for model in self.models:
            families.setdefault(name_key(model.family), []).append(model)
        self._family_map: dict[str, tuple[GpuModel, ...]] = {
            k: tuple(v) for k, v in families.items()
        }

    def get(self, model_id: str) -> GpuModel:
        """The model with this canonical id."""
        try:
            return self._ids[model_id]
        except KeyError:
            raise UnknownGpuError(model_id, self.suggest(model_id)) from None

    def resolve(self, name: str) -> GpuModel | None:
        """The model a name (id or alias, any spelling) refers to, or ``None``."""
        model_id = self._keys.get(name_key(name)) or self._keys.get(_without_vendor_words(name))
        return None if model_id is None else self._ids[model_id]

    def require(self, name: str) -> GpuModel:
        """Like ``resolve`` but raises ``UnknownGpuError`` with suggestions."""
        model = self.resolve(name)
        if model is None:
            raise UnknownGpuError(name, self.suggest(name))
        return model

    def family(self, name: str) -> tuple[GpuModel, ...]:
        """Members of the family called ``name`` (empty if ``name`` is not a family)."""
        return self._family_map.get(name_key(name), ())

    def matching(self, query: str) -> frozenset[str]:
        """Model ids a user's ``--gpu`` filter means: a whole family, or one model by any alias."""
        members = self.family(query)
        if members:
            return frozenset(m.id for m in members)
        return frozenset({self.require(query).id})

    def suggest(self, name: str, limit: int = 3) -> list[str]:
        keys = difflib.get_close_matches(name_key(name), list(self._keys), n=limit * 3, cutoff=0.6)
        out: list[str] = []
        for key in keys:
            model_id = self._keys[key]
            if model_id not in out:
                out.append(model_id)
        return out[:limit]

    def refine(
        self,
        model: GpuModel,
        *,
        name: str,
        hints: str = "",
        memory_gib: float | None = None,
    ) -> GpuModel:
        """Pick the right sibling when a catalog used a bare family name such as ``H100``.

        Only a bare family name is refined; a specific name (``A100-80GB``) is taken as given.
        Evidence, in order: form-factor tokens in ``hints`` (instance type, GpuInfo name), then the
        per-GPU memory the supplier reports. Without evidence the family default stays.
        """
        siblings = self.family(name)
        if len(siblings) < 2 or model not in siblings:
            return model
        candidates = list(siblings)
        tokens = {
            _FORM_TOKENS[t] for t in re.split(r"[^a-z0-9]+", hints.lower()) if t in _FORM_TOKENS
        }
        if tokens:
            by_form = [m for m in candidates if _form_class(m) in tokens]
            if by_form:
                candidates = by_form
        if memory_gib is not None:
            by_memory = [
                m
                for m in candidates
                if m.memory_gib is not None
                and abs(m.memory_gib - memory_gib) <= _MEMORY_MATCH_TOLERANCE * m.memory_gib
            ]
            if by_memory:
                candidates = by_memory
        return model if model in candidates else candidates[0]


def _form_class(model: GpuModel) -> str | None:
    text = f"{model.id} {model.form_factor or ''}".lower()
    for token in ("nvl", "pcie", "sxm"):
        if token in text:
            return token
    return None


def _model_from_entry(entry: Mapping[str, Any], index: int) -> GpuModel:
    where = f"gpu_models.yaml entry {index} ({entry.get('id', '?')})"
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        msg = f"{where}: missing {', '.join(missing)}"
        raise ValueError(msg)
    numbers: dict[str, float | None] = {}
    for key in NUMERIC_SPECS:
        value = entry.get(key)
        if value is not None and not isinstance(value, int | float):
            msg = f"{where}: {key} must be a number or null, got {value!r}"
            raise ValueError(msg)
        numbers[key] = None if value is None else float(value)
    texts = {k: (None if entry.get(k) is None else str(entry[k])) for k in _TEXT_FIELDS}
    return GpuModel(
        id=str(entry["id"]),
        vendor=str(entry["vendor"]),
        family=str(entry["family"]),
        name=str(entry["name"]),
        architecture=texts["architecture"],
        form_factor=texts["form_factor"],
        memory_gib=numbers["memory_gib"],
        memory_type=texts["memory_type"],
        bf16_tflops=numbers["bf16_tflops"],
        fp16_tflops=numbers["fp16_tflops"],
        fp32_tflops=numbers["fp32_tflops"],
        memory_bandwidth_gbps=numbers["memory_bandwidth_gbps"],
        tdp_w=numbers["tdp_w"],
        interconnect=texts["interconnect"],
        sources=tuple(str(s) for s in entry["sources"]),
        notes=str(entry.get("notes") or ""),
        aliases=tuple(str(a) for a in entry["aliases"]),
    )


def parse_gpu_table(document: object) -> GpuTable:
    """Build a table from the parsed YAML document (a list of model entries)."""
    if not isinstance(document, list):
        msg = "gpu_models.yaml must be a list of model entries"
        raise ValueError(msg)
    return GpuTable(tuple(_model_from_entry(e, i) for i, e in enumerate(document, 1)))


@cache
def gpu_table() -> GpuTable:
    """The built-in GPU model table (loaded once)."""
    text = resources.files("gpufleet.catalog").joinpath("data/gpu_models.yaml").read_text("utf-8")
    return parse_gpu_table(yaml.safe_load(text))

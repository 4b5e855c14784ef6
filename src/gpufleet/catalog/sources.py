"""Where offers come from, and loading them all into one ``OfferCatalog``.

Sources, in the order they are read:

1. SkyPilot-format catalogs: the shared data's ``catalog/`` folder (``$GPUFLEET_DATA``, default
   ``../shared/data`` when it exists) or any folders/files the user names;
2. the built-in offer table shipped in the package (``data/offers/*.yaml``), used when no
   SkyPilot catalog is available, so ``gpufleet offers`` works on any machine;
3. supplier files the user names (private contracts), always added on top.

The environment and working directory are passed in, never read here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from gpufleet.catalog.gpus import GpuTable
from gpufleet.catalog.problems import CatalogError, LoadReport, Problem
from gpufleet.catalog.skypilot import catalog_files, load_vms_csv, supplier_from_path
from gpufleet.catalog.supplier_file import load_supplier_file, supplier_files
from gpufleet.domain.offer import Offer
from gpufleet.domain.supplier import Supplier

DATA_ENV = "GPUFLEET_DATA"


def find_shared_data(env: Mapping[str, str], cwd: Path) -> Path | None:
    """The shared data folder: ``$GPUFLEET_DATA`` if set (it must exist), else ``../shared/data``
    beside the working directory or beside this checkout, when there is one."""
    configured = env.get(DATA_ENV)
    if configured:
        path = Path(configured).expanduser()
        if not path.is_dir():
            message = f"{DATA_ENV} points to {path}, which is not a folder"
            raise CatalogError(Problem(DATA_ENV, None, None, message))
        return path
    checkout = Path(__file__).resolve().parents[3]
    for candidate in (cwd / ".." / "shared" / "data", checkout / ".." / "shared" / "data"):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def builtin_offers_dir() -> Path:
    return Path(str(resources.files("gpufleet.catalog") / "data" / "offers"))


@dataclass(frozen=True, slots=True)
class CatalogSources:
    catalogs: tuple[Path, ...] = ()
    """SkyPilot ``vms.csv`` files or folders holding them."""
    supplier_files: tuple[Path, ...] = ()
    """Supplier YAML files or folders holding them."""
    builtin: bool = False
    """Read the built-in offer table (``default_sources`` then skips the shared catalog)."""

    def describe(self) -> str:
        parts = [str(p) for p in self.catalogs]
        if self.builtin:
            parts.append("built-in offer table")
        parts.extend(str(p) for p in self.supplier_files)
        return ", ".join(parts) or "nothing"


def default_sources(
    shared_data: Path | None,
    *,
    catalogs: Sequence[Path] = (),
    supplier_paths: Sequence[Path] = (),
    builtin: bool | None = None,
) -> CatalogSources:
    """What to read when the user names some sources (or none)."""
    chosen = tuple(catalogs)
    if not chosen and builtin is not True and shared_data is not None:
        shared_catalog = shared_data / "catalog"
        if shared_catalog.is_dir():
            chosen = (shared_catalog,)
    use_builtin = builtin if builtin is not None else not chosen
    return CatalogSources(chosen, tuple(supplier_paths), use_builtin)


@dataclass(slots=True)
class OfferCatalog:
    offers: list[Offer] = field(default_factory=list)
    suppliers: dict[str, Supplier] = field(default_factory=dict)
    report: LoadReport = field(default_factory=LoadReport)

    @property
    def supplier_ids(self) -> set[str]:
        return {o.supplier for o in self.offers}


def load_offers(sources: CatalogSources, table: GpuTable, *, strict: bool = False) -> OfferCatalog:
    """Read every source into one catalog; problems go to ``catalog.report`` (raised if strict)."""
    catalog = OfferCatalog(report=LoadReport(strict=strict))
    for path in sources.catalogs:
        _require(path)
        files = catalog_files(path) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise CatalogError(Problem(str(path), None, None, "holds no *vms*.csv catalog files"))
        for file in files:
            supplier = supplier_from_path(file)
            catalog.suppliers.setdefault(supplier, Supplier(supplier, supplier))
            catalog.offers.extend(load_vms_csv(file, table, catalog.report, supplier=supplier))
    yaml_paths: list[tuple[Path, bool]] = []
    if sources.builtin:
        yaml_paths.extend((p, False) for p in supplier_files(builtin_offers_dir()))
    for path in sources.supplier_files:
        _require(path)
        if path.is_dir():
            yaml_paths.extend((p, False) for p in supplier_files(path))
        else:
            yaml_paths.append((path, True))
    for path, named in yaml_paths:
        # Example files document the format; they are read only when named explicitly.
        loaded = load_supplier_file(path, table, catalog.report, include_examples=named)
        if loaded is None:
            continue
        if loaded.example and not named:
            catalog.report.skipped[f"{loaded.supplier.id}: example file (name it to load it)"] += 1
            continue
        catalog.suppliers[loaded.supplier.id] = loaded.supplier
        catalog.offers.extend(loaded.offers)
    return catalog


def _require(path: Path) -> None:
    if not path.exists():
        raise CatalogError(Problem(str(path), None, None, "no such file or folder"))

"""What every HTML report shares: templates from ``reports/templates`` (autoescaped, strict) and
matplotlib figures embedded as PNG data, so each report is one self-contained file."""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # files only, never a window

import jinja2
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("gpufleet.reports", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def png_base64(fig: Figure) -> str:
    """The figure as base64 PNG (for ``<img src="data:image/png;base64,...">``); closes it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def render(template: str, **values: Any) -> str:
    return _ENV.get_template(template).render(**values)

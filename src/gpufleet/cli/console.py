"""The CLI's two consoles (results on stdout, messages on stderr) and its error exit."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr; return the exit to raise (2: bad usage, 1: bad data)."""
    err.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)

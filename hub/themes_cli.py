"""``hub themes``: feedback themes from a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["register"]


def register(cli: click.Group) -> None:
    @cli.group()
    def themes() -> None:
        """Customer feedback themes."""

    @themes.command("evaluate")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--k",
        "k",
        type=click.IntRange(min=1),
        default=None,
        help="How many themes (default: as many as the texts show).",
    )
    def themes_evaluate(file: Path, k: int | None) -> None:
        """Cluster the ``text`` column of FILE (a CSV of id,text,label) with the hub's own
        theme pipeline and print, as JSON, the adjusted Rand index and NMI against
        ``label``, the number of themes and the throughput."""
        from themes.embedding import Embedder
        from themes.evaluate import evaluate_csv

        click.echo(json.dumps(evaluate_csv(file, Embedder(), k), indent=2))

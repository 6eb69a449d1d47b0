"""`gitops-push history`: the deploys as a table for people, or a JSON list for machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from gitops_push.reporters import console_width
from gitops_push.reporters.safe import markup


def render(
    deploys: Sequence[Mapping[str, Any]],
    *,
    output: str,
    no_color: bool = False,
    stdout: IO[str] | None = None,
) -> None:
    stream = stdout or sys.stdout
    if output == "json":
        json.dump(list(deploys), stream, indent=2)
        stream.write("\n")
        return
    console = Console(
        file=stream,
        no_color=no_color or None,
        highlight=False,
        emoji=False,  # a commit subject's ":ok:" is text
        soft_wrap=True,
        width=console_width(),
    )
    if not deploys:
        console.print("no deploys yet")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("time", "commit", "subject", "by", "created", "updated", "pruned", "note"):
        table.add_column(column)
    for deploy in deploys:
        note = ""
        if deploy["rollback"]:
            note = f"[yellow]rollback to {markup(str(deploy['rolled_back_to']))}[/]"
        elif deploy["promoted_from"]:
            note = f"[cyan]promoted from {markup(str(deploy['promoted_from']))}[/]"
        table.add_row(
            markup(deploy["time"]),
            markup(deploy["commit"][:12]),
            markup(deploy["subject"]),
            markup(deploy["by"] or deploy["pipeline"]),
            str(deploy["created"]),
            str(deploy["updated"]),
            str(deploy["pruned"]),
            note,
        )
    console.print(table)

"""Shared rendering helpers for human output (rich is imported here, never in core/).

Every table is a `Grid`: its columns say what may give way when the terminal is narrow.
An ESSENTIAL column (a reference, an amount, a diagnosis, a time meant to be read) is never cut:
its values keep every word whole. A FOLD column may fold inside a word. An OPTIONAL column is left
out (and named under the table) when keeping it would cut an essential one. When even the essential
columns do not fit side by side, the rows are shown one field per line instead. In a pipe there is
no width limit at all: full values, lines unwrapped (grep and cut see what the database holds).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from proaudit_ops.money import Money
from proaudit_ops.timeutil import iso

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.table import Table
    from rich.text import Text

# A pipe is not a screen: wide enough that nothing wraps or folds.
PIPE_WIDTH = 100_000
FOLD_MIN = 6  # narrowest a foldable column gets

Kind = Literal["essential", "fold", "optional"]
ESSENTIAL: Kind = "essential"
FOLD: Kind = "fold"
OPTIONAL: Kind = "optional"


@functools.cache
def _console_class() -> type[Console]:
    from rich.console import Console

    class FunnelConsole(Console):
        def on_broken_pipe(self) -> None:
            # rich would exit 1 ("finding") here; the error funnel decides instead (cli/runner.py).
            self.quiet = True
            raise BrokenPipeError

    return FunnelConsole


def console() -> Console:
    """stdout: the terminal's width on a terminal, no width limit in a pipe."""
    out = _console_class()(highlight=False, soft_wrap=False)
    if not out.is_terminal:
        out = _console_class()(highlight=False, soft_wrap=False, width=PIPE_WIDTH)
    return out


def err_console() -> Console:
    """stderr, by the same rule: a log file gets whole lines."""
    out = _console_class()(stderr=True, highlight=False)
    if not out.is_terminal:
        out = _console_class()(stderr=True, highlight=False, width=PIPE_WIDTH)
    return out


def money(value: Money | None) -> str:
    return "—" if value is None else f"{value.format()} ({value.subunits})"


def amount(subunits: int | None, currency: str) -> str:
    """Subunits in both forms (`15000000 kobo = ₦150,000.00`), or — when there is none."""
    from proaudit_ops.money import describe_amount

    return "—" if subunits is None else describe_amount(int(subunits), currency)


def when(value: datetime | None) -> str:
    return "—" if value is None else (iso(value) or "—")


def text(value: object) -> str:
    return "—" if value is None or value == "" else str(value)


STYLE_BY_HEALTH = {True: "green", False: "bold red"}


def value(key: str, raw: object, currency: object = None) -> str:
    """A database value for display: money columns in both forms, times in ISO UTC."""
    from proaudit_ops.money import describe_amount

    if raw is None:
        return "—"
    if key.endswith("_kobo") and isinstance(raw, int):
        return describe_amount(raw, str(currency or "NGN"))
    if isinstance(raw, datetime):
        return when(raw)
    return str(raw)


# -- tables -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    header: str
    kind: Kind = FOLD
    justify: Literal["left", "right", "center"] = "left"


def _cell_text(cell: str | Text, markup: bool) -> Text:
    from rich.errors import MarkupError
    from rich.text import Text

    if not isinstance(cell, str):
        return cell
    if not markup:
        return Text(cell)
    try:
        return Text.from_markup(cell)
    except MarkupError:
        return Text(cell)


def _widths(cell: Text) -> tuple[int, int]:
    """(natural width, widest word) of one cell."""
    from rich.cells import cell_len

    plain = cell.plain
    natural = max((cell_len(line) for line in plain.splitlines()), default=0)
    word = max((cell_len(token) for token in plain.split()), default=0)
    return natural, word


class Grid:
    """A table that fits the width it is printed at without cutting what must be read whole."""

    def __init__(
        self,
        columns: Sequence[Col | str],
        *,
        title: str | None = None,
        caption: str | None = None,
        show_header: bool = True,
        markup: bool = False,
    ) -> None:
        self.columns = [c if isinstance(c, Col) else Col(c) for c in columns]
        self.title = title
        self.caption = caption
        self.show_header = show_header
        self.markup = markup
        self.rows: list[list[Text] | None] = []  # None: a section line

    def add_row(self, *cells: str | Text) -> None:
        self.rows.append([_cell_text(c, self.markup) for c in cells])

    def add_section(self) -> None:
        self.rows.append(None)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Title and caption are lines of their own: wrapped at the screen's width, not the table's,
        # so a time in a title is not folded to fit a narrow table.
        from rich.text import Text

        table, note = self.layout(options.max_width)
        if self.title:
            yield Text(self.title, style="table.title")
        yield table
        for line in (self.caption, note):
            if line:
                yield Text(line, style="table.caption")

    def _measure(self) -> tuple[list[int], list[int]]:
        from rich.text import Text

        natural = [0] * len(self.columns)
        word = [0] * len(self.columns)
        cells: list[list[Text]] = [r for r in self.rows if r is not None]
        if self.show_header:
            cells.append([Text(c.header) for c in self.columns])
        for row in cells:
            for i, cell in enumerate(row):
                n, w = _widths(cell)
                natural[i], word[i] = max(natural[i], n), max(word[i], w)
        return natural, word

    def layout(self, width: int) -> tuple[Table, str | None]:
        """The rich Table for this width and a note naming the columns left out, if any."""
        natural, word = self._measure()
        kept = list(range(len(self.columns)))
        if sum(natural) + _overhead(len(kept)) <= width:
            return self._table(kept, None), None

        def minimum(i: int) -> int:
            return word[i] if self.columns[i].kind == ESSENTIAL else min(natural[i], FOLD_MIN)

        dropped: list[int] = []
        optional = [i for i in kept if self.columns[i].kind == OPTIONAL]
        while sum(minimum(i) for i in kept) + _overhead(len(kept)) > width and optional:
            last = optional.pop()
            kept.remove(last)
            dropped.insert(0, last)
        budget = width - _overhead(len(kept)) - sum(minimum(i) for i in kept)
        if budget < 0:
            return self._records(width), None
        widths = {i: minimum(i) for i in kept}
        # Then, in order: foldable labels up to their widest word, essentials whole, the rest whole.
        for targets in (
            {i: min(natural[i], word[i]) for i in kept if self.columns[i].kind != ESSENTIAL},
            {i: natural[i] for i in kept if self.columns[i].kind == ESSENTIAL},
            {i: natural[i] for i in kept},
        ):
            for i, target in targets.items():
                grow = min(budget, max(0, target - widths[i]))
                widths[i] += grow
                budget -= grow
        note = None
        if dropped:
            names = ", ".join(self.columns[i].header for i in dropped)
            note = f"not shown at this width: {names} (widen the terminal, pipe the output or use --json)"
        return self._table(kept, widths), note

    def _table(self, kept: list[int], widths: dict[int, int] | None) -> Table:
        from rich.table import Table

        table = Table(show_header=self.show_header)
        for i in kept:
            column = self.columns[i]
            table.add_column(
                column.header,
                justify=column.justify,
                overflow="fold",
                width=None if widths is None else widths[i],
            )
        for row in self.rows:
            if row is None:
                table.add_section()
            else:
                table.add_row(*(row[i] for i in kept))
        return table

    def _records(self, width: int) -> Table:
        """One field per line, one section per row: for widths where the columns cannot sit side by side."""
        from rich.table import Table
        from rich.text import Text

        table = Table(show_header=False)
        label = max((len(c.header) for c in self.columns), default=1)
        table.add_column("field", style="dim", overflow="fold", width=min(label, max(FOLD_MIN, width // 3)))
        table.add_column("value", overflow="fold")
        rows = [r for r in self.rows if r is not None]
        for n, row in enumerate(rows):
            for column, cell in zip(self.columns, row, strict=False):
                if cell.plain:  # a blank cell continues the row above (a plan's further columns)
                    table.add_row(Text(column.header), cell)
            if n < len(rows) - 1:
                table.add_section()
        return table


def _overhead(columns: int) -> int:
    """Borders and padding of a default rich table: one rule per edge, one space each side of a cell."""
    return 3 * columns + 1

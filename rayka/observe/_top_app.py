"""The Textual app of ``rayka top``: four tables refreshed about once a second; ``s`` sort, ``f`` filter, ``q`` quit."""

from __future__ import annotations

from typing import Any, Callable

from textual.app import App, ComposeResult
from textual.binding import Binding
from rich.text import Text
from textual.widgets import DataTable, Footer, Header, Input, Static

from ._snapshot import Metrics
from ._top import ACTOR_COLUMNS, CLASS_COLUMNS, LETTER_COLUMNS, NODE_COLUMNS, SORTS, Frame

__all__ = ["TopApp"]


class TopApp(App):
    """Live tables of a system's nodes, actor classes, busiest actors and dead letters."""

    TITLE = "rayka top"
    CSS = "DataTable { height: auto; max-height: 16; margin-bottom: 1; } #filter { display: none; }"
    BINDINGS = [Binding("s", "sort", "sort"), Binding("f", "filter", "filter"), Binding("q", "quit", "quit")]

    def __init__(self, source: Callable[[], Metrics], interval: float = 1.0) -> None:
        super().__init__()
        self.source = source
        self.interval = interval
        self.sort = SORTS[0]
        self.text_filter = ""
        self.before: Metrics | None = None
        self.now: Metrics | None = None
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="status")
        yield Input(placeholder="filter by class, path or node; Enter to apply", id="filter")
        yield Static("", id="tree")
        for name, columns in (("nodes", NODE_COLUMNS), ("classes", CLASS_COLUMNS), ("actors", ACTOR_COLUMNS),
                              ("letters", LETTER_COLUMNS)):
            table: DataTable[str] = DataTable(id=name, zebra_stripes=True)
            table.add_columns(*columns)
            yield table
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#actors", DataTable).focus()  # keys go to the app, not to the (hidden) filter box
        self.refresh_tables()
        self.set_interval(self.interval, self.refresh_tables)

    def refresh_tables(self) -> None:
        try:
            now = self.source()
        except Exception as error:  # noqa: BLE001 - the system went away: say so, keep trying
            self.error = f"cannot read metrics: {type(error).__name__}: {error}"
            self._status()
            return
        self.error = ""
        self.before, self.now = self.now, now
        self.show()

    def show(self) -> None:
        if self.now is None:
            return
        frame = Frame(self.now, self.before, self.sort, self.text_filter)
        for name, rows in (("nodes", frame.nodes), ("classes", frame.classes), ("actors", frame.actors),
                           ("letters", frame.dead_letters)):
            table = self.query_one(f"#{name}", DataTable)
            table.clear()
            table.add_rows(rows)
        self.query_one("#tree", Static).update(Text(frame.tree))
        self._status()

    def _status(self) -> None:
        shown = f", filter {self.text_filter!r}" if self.text_filter else ""
        text = self.error or f"sorted by {self.sort}{shown}"
        self.query_one("#status", Static).update(text)

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.show()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.text_filter = event.value.strip()
        event.input.display = False
        self.query_one("#actors", DataTable).focus()
        self.show()

    def table_rows(self, name: str) -> list[tuple[Any, ...]]:
        """What a table shows now (for tests and scripts)."""
        table = self.query_one(f"#{name}", DataTable)
        return [tuple(table.get_row_at(i)) for i in range(table.row_count)]

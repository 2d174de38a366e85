"""Progress bars on a terminal, nothing in a pipe: ``tag`` (files/s and ETA; once the site asked us to
slow down, the line says at which pace every request goes now) and ``catalogue update`` (sitemaps,
albums, ETA)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn

if TYPE_CHECKING:
    from bdnex_core.pipeline.steps import Outcome


class FilesPerSecondColumn(TextColumn):
    def __init__(self) -> None:
        super().__init__("")

    def render(self, task: Any) -> Any:
        speed = task.finished_speed or task.speed
        return self.text_format if speed is None else f"{speed:5.1f} files/s"


class ProgressDisplay:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(file=sys.stderr)
        self._progress: Progress | None = None
        self._task: Any = None

    @classmethod
    def for_terminal(cls, quiet: bool = False) -> ProgressDisplay | None:
        return cls() if sys.stderr.isatty() and not quiet else None

    def start(self, total: int) -> None:
        self._progress = Progress(
            TextColumn("[bold]tagging"),
            BarColumn(),
            MofNCompleteColumn(),
            FilesPerSecondColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[last]}"),
            TextColumn("[yellow]{task.fields[pace]}"),
            console=self.console,
            transient=True,
        )
        self._task = self._progress.add_task("tag", total=total, last="", pace="")
        self._progress.start()

    def advance(self, outcome: Outcome, *, pace: str | None = None) -> None:
        """One more file done; ``pace``: the site asked us to slow down (what to say about it)."""
        if self._progress is not None:
            last = f"{outcome.state}: {outcome.item.name}"[:60]
            self._progress.update(self._task, advance=1, last=last, pace=pace or "")

    def pause(self) -> None:
        if self._progress is not None:
            self._progress.stop()

    def resume(self) -> None:
        if self._progress is not None:
            self._progress.start()

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class CatalogueProgress:
    """``catalogue update`` on a terminal: a spinner while the site is asked for its sitemap index, then
    a bar over the sitemaps with the albums stored so far and the time left; nothing in a pipe."""

    def __init__(self, host: str, console: Console | None = None):
        self.console = console or Console(file=sys.stderr)
        self._albums = 0
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]catalogue"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("sitemaps · {task.fields[albums]} albums · ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.description}"),
            console=self.console,
            transient=True,
        )
        self._task = self._progress.add_task(f"asking {host} for its sitemap index", total=None, albums=0)

    @classmethod
    def for_terminal(cls, host: str, quiet: bool = False) -> CatalogueProgress | None:
        return cls(host) if sys.stderr.isatty() and not quiet else None

    def __enter__(self) -> CatalogueProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def index_read(self, sitemaps: int) -> None:
        self._progress.update(self._task, total=sitemaps, description="")

    def sitemap_done(self, name: str, albums: int, *, fetched: bool) -> None:
        self._albums += albums
        said = name if fetched else f"{name} unchanged"
        self._progress.update(self._task, advance=1, albums=f"{self._albums:,}", description=said)

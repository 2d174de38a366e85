"""The terminal front-end of the review service: asking a person about uncertain matches.

Used by ``bdnex-core review`` (the queue) and ``tag --interactive`` (as files come). It only reads
keys and prints; what the keys do lives in :mod:`bdnex_core.app.review`, shared with
the web page. One rule for every write: whatever picks the album (a listed number, a search result,
an id or a URL), what would change in the file is shown, with the words of any disagreement
between the album and the file's name, and it is written only once the person says yes (Enter).
A number picks only a listed candidate. Ctrl-C raises ``KeyboardInterrupt`` out of the prompt,
whatever handler the run installed, so the caller pauses with the current file left undone; the
end of the input (a pipe, a script, ``</dev/null``) raises :class:`EndOfInput`: nothing more can be
asked, and what is left keeps waiting.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click

from bdnex_core.app.review import PAGE, AlbumCard, ReviewService, album_id_of
from bdnex_core.errors import BdnexError
from bdnex_core.library import LibraryItem

# the fields a person judges an album by: shown one per line in a confirmation, the others counted
MAIN_FIELDS = ("Series", "Number", "Title", "Year", "Publisher", "Writer", "Penciller", "GTIN")

HELP = """  keys:
    1-N          show what that listed candidate would change, then confirm (Enter)
    1b, 2c...    the same for that edition of a listed candidate (its editions are lettered under it)
    id 245127    show album 245127 (or id and its Bédéthèque URL, or the URL alone), then confirm
    / TEXT       search the local catalogue, e.g. / lanfeust 4
    m            more candidates
    s            skip: leave the file as it is (listed by: review --list --skipped)
    u            undo the last decision of this review
    q            quit (what is left keeps waiting)
    ?            this help"""


@dataclass
class Subject:
    """What the prompt asks about: one file and what matching found for it."""

    item: LibraryItem
    reason: str = ""
    parsed: dict[str, Any] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    header: str = ""


class EndOfInput(Exception):
    """The input ended (a pipe, a script, ``</dev/null``): nobody is left to ask."""


@dataclass
class Choice:
    """A person's answer: ``album`` (with its id), ``skip``, ``undo`` or ``quit``."""

    action: str
    album_id: int | None = None


@contextmanager
def ctrl_c_interrupts() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt at once while a person is asked (a run's handler only sets a flag)."""
    try:
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: nothing to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def read_line(text: str) -> str:
    """One answer (the question on stderr, as every line of the prompt). Ctrl-C raises KeyboardInterrupt
    (the caller pauses); the end of the input raises :class:`EndOfInput` (the caller stops asking)."""
    click.echo(f"{text} > ", nl=False, err=True)
    try:
        return input().strip()
    except EOFError:
        click.echo("", err=True)
        raise EndOfInput from None


def say(text: str = "") -> None:
    click.echo(text, err=True)


def edition_answer(number: int, position: int) -> str:
    """The key of an edition listed under candidate ``number``: '1a', '1b'..."""
    return f"{number}{'abcdefghijklmnopqrstuvwxyz'[position % 26]}"


def album_words(card: AlbumCard) -> str:
    """``Lucky Luke #1 - La mine d'or de Dick Digger``: which album, in one line."""
    what = " ".join(part for part in (card.series, f"#{card.tome}" if card.tome else None) if part)
    if card.title and card.title != card.series:
        what += f" - {card.title}"
    return what or f"album {card.album_id}"


def candidate_line(number: int, card: AlbumCard, *, best: bool = False) -> str:
    extra = ", ".join(str(part) for part in (card.year, card.publisher) if part)
    line = f"  [{number}] {album_words(card)}" + (f" ({extra})" if extra else "")
    line += f"  album {card.album_id}"
    if card.score is not None:
        line += f"  score {card.score:.2f}"
    if best:
        line += "  (best)"
    if card.breakdown:
        line += f"\n      {card.breakdown}"
    if card.cover:
        line += f"\n      {card.cover}"
    if len(card.editions) > 1:  # the editions of this album: the one listed, and the others to pick by key
        line += f"\n      {len(card.editions)} editions:"
        for position, (album_id, label) in enumerate(card.editions):
            this = "  (this one)" if album_id == card.album_id else ""
            line += f"\n        [{edition_answer(number, position)}] album {album_id}  {label or ''}{this}".rstrip()
    return line


def card_text(card: AlbumCard) -> str:
    """What taking an album would do: the album, where it disagrees with the name, the field changes
    (the main fields one per line, the others counted on one)."""
    lines = [f"  album {card.album_id}: {card.url or ''}"]
    for label, value in (
        ("series", card.series),
        ("tome", card.tome),
        ("title", card.title),
        ("year", card.year),
        ("publisher", card.publisher),
        ("authors", ", ".join(card.authors) if card.authors else None),
        ("ISBN", card.isbn),
    ):
        lines.append(f"    {label:<10} {value if value not in (None, '') else '-'}")
    if card.problem:
        lines.append(f"    (album page unavailable: {card.problem})")
    for difference in card.differences:
        lines.append(f"    ! {difference}")
    if card.changes:
        lines.append("    would change in the file:")
        others = [name for name in card.changes if name not in MAIN_FIELDS]
        for name, (old, new) in card.changes.items():
            if name in MAIN_FIELDS:
                lines.append(f"      {name}: {_shown(old)} -> {_shown(new)}")
        if others:
            lines.append(f"      and {len(others)} more field(s): {', '.join(others)}")
    else:
        lines.append("    nothing would change in the file")
    return "\n".join(lines)


def _shown(value: Any) -> str:
    return "(none)" if value is None or value == "" else str(value)


class ReviewPrompt:
    """Asks about one subject at a time and returns the person's :class:`Choice`."""

    def __init__(self, service: ReviewService, *, can_undo: Callable[[], bool] = lambda: False):
        self.service = service
        self.can_undo = can_undo

    def ask(self, subject: Subject) -> Choice:
        with ctrl_c_interrupts():
            return self._ask(subject)

    def _ask(self, subject: Subject) -> Choice:
        say(f"\n{subject.header or subject.item.name}")
        if subject.reason:
            say(f"  {subject.reason}")
        wanted = " ".join(
            str(subject.parsed.get(key)) for key in ("series", "tome", "title") if subject.parsed.get(key)
        )
        if wanted:
            say(f"  read from the name: {wanted}")
        listed = list(subject.candidates[:PAGE])  # numbers point into this list only
        absent = self._guarded(self.service.absent_tome, subject.parsed, listed)
        editions: dict[str, int] = {}  # '1b' -> the album id of that edition, as listed
        if absent:  # the tome is not in the series: its tied albums are no candidates, only neighbours
            say(f"  {absent}")
            say("  m lists the series' albums anyway; / TEXT searches; id N or a URL takes an album")
            hidden, listed = listed, []
        else:
            hidden = []
            self._show(listed, 1, editions)
        if not listed and not absent:
            say("  no candidate in the local catalogue; search with / TEXT or give an id")
        while True:
            if listed:
                question = f"  choose 1-{len(listed)}, s(kip), ? for help"
            else:
                question = "  m(ore), s(kip), ? for help" if hidden else "  s(kip), ? for help"
            answer = read_line(question)
            lowered = answer.lower()
            if lowered in ("?", "h", "help"):
                say(HELP)
            elif lowered in ("s", "skip"):
                return Choice("skip")
            elif lowered in ("q", "quit"):
                return Choice("quit")
            elif lowered in ("u", "undo"):
                if self.can_undo():
                    return Choice("undo")
                say("  nothing to undo in this review")
            elif lowered in ("m", "more") and hidden:
                self._show(hidden, 1, editions)
                listed, hidden = hidden, []
            elif lowered in ("m", "more"):
                more = self._guarded(
                    self.service.more_candidates,
                    subject.item.name,
                    subject.item.hints.get("parent"),
                    listed + subject.candidates,
                )
                more = more[:PAGE] if more else more
                if more:
                    self._show(more, len(listed) + 1, editions)
                    listed += more
                elif more is not None:
                    say("  no more candidates")
            elif answer.startswith("/"):
                found = self._guarded(
                    self.service.search,
                    answer[1:],
                    exclude={int(c["album_id"]) for c in listed},
                    file_name=subject.item.name,  # scored against the file, not the query
                    parent=subject.item.hints.get("parent"),
                )
                if found:
                    self._show(found, len(listed) + 1, editions)
                    listed += found
                elif found is not None:
                    say(f"  nothing new found for {answer[1:].strip()!r}")
            elif lowered in editions:  # an edition listed under a candidate: confirmed as any choice
                if self._confirm(subject, editions[lowered]):
                    return Choice("album", editions[lowered])
            elif answer.isdigit() and len(answer) <= 3:
                number = int(answer)
                if not 1 <= number <= len(listed):
                    say(f"  no candidate {number}; type `id {answer}` or paste a URL to use album {answer}")
                    continue
                picked = int(listed[number - 1]["album_id"])
                if self._confirm(subject, picked):
                    return Choice("album", picked)
            elif (explicit := album_id_of(answer)) is not None:
                if self._confirm(subject, explicit):
                    return Choice("album", explicit)
            elif answer:
                say(f"  not understood: {answer!r} (? for help)")

    def _show(self, candidates: list[dict[str, Any]], first: int, editions: dict[str, int]) -> None:
        for number, card in enumerate(self.service.cards(candidates), start=first):
            say(candidate_line(number, card, best=number == 1))
            if len(card.editions) > 1:
                editions.update(
                    (edition_answer(number, position), album_id)
                    for position, (album_id, _label) in enumerate(card.editions)
                )

    def _confirm(self, subject: Subject, album_id: int) -> bool:
        """The one rule for every write: show what would change (and where the album disagrees with the
        name), then ask; Enter says yes."""
        card = self._guarded(self.service.preview, subject.item, album_id, subject.parsed)
        if card is None:
            return False
        say(card_text(card))
        answer = read_line(f"  tag {subject.item.name} as {album_words(card)}? [Y/n]").lower()
        return answer in ("", "y", "yes", "o", "oui")

    @staticmethod
    def _guarded(action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one action; its error is one line and the prompt goes on."""
        try:
            return action(*args, **kwargs)
        except BdnexError as exc:
            say(f"  {exc}")
            return None


def terminal_reviewer(
    service_factory: Callable[[], ReviewService], *, review_command: str = "bdnex-core review"
) -> Callable[[Any], int | None]:
    """The reviewer of `tag --interactive`: an album id, or ``None`` to leave the file for `review`;
    Ctrl-C or ``q`` raise KeyboardInterrupt (the run pauses, this file left undone). Once the input
    has ended, nobody is asked again: the uncertain files wait for ``review_command``."""
    prompt: ReviewPrompt | None = None
    ended = False

    def review(outcome: Any) -> int | None:
        nonlocal prompt, ended
        if ended:
            return None
        if prompt is None:
            prompt = ReviewPrompt(service_factory())
        subject = Subject(outcome.item, outcome.reason, outcome.parsed, outcome.candidates)
        try:
            choice = prompt.ask(subject)
        except EndOfInput:
            ended = True
            say(f"  input ended: the uncertain files wait for you ({review_command})")
            return None
        if choice.action == "quit":
            raise KeyboardInterrupt
        return choice.album_id if choice.action == "album" else None

    return review

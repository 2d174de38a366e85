"""The body of ``POST /api/Chapter/update``: Kavita's current chapter, with only our fields changed.

Kavita 0.8.3's ``ChapterController.UpdateChapterMetadata`` is unforgiving: an absent summary,
title, language, link list or release date becomes empty, an absent sort order becomes 0, and
every ``…Locked`` flag is copied from the body. So the body starts as the current chapter
(``GET /api/Chapter``) restricted to ``UpdateChapterDto``'s properties, and our values replace
the fields that differ, unless the user locked them. The people, genre and tag lists are always
sent whole (newer Kavita replaces them with the body's lists, an absent one clears them).

Four locks are not in 0.8.3's ``ChapterDto`` (title, sort order, release date, ISBN) although the
update copies them: when Kavita does not report one, it is sent as ``false`` and the plan says so
(:attr:`ChapterPlan.unreadable_locks`); a Kavita that reports them gets them back as they were.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bdnex_kavita.mapping import (
    CHAPTER_LOCKS,
    NO_DATE,
    PEOPLE,
    PEOPLE_LISTS,
    UNREADABLE_LOCKS,
    UPDATE_CHAPTER_KEYS,
    isbn_of,
    merged_names,
    names,
    release_date,
    same_date,
    same_links,
    same_names,
    split_values,
    web_links,
)


@dataclass
class ChapterPlan:
    """The body to send (None: nothing changes), what changes, what stays locked, and the locks Kavita
    did not report (sent as ``false``)."""

    body: dict[str, Any] | None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    kept: dict[str, Any] = field(default_factory=dict)
    unreadable_locks: tuple[str, ...] = ()


def current_body(chapter: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``UpdateChapterDto`` holding the chapter as it is, and the locks that had to be guessed (``false``)."""
    body: dict[str, Any] = {}
    for key in UPDATE_CHAPTER_KEYS:
        if key in chapter:
            body[key] = copy.deepcopy(chapter[key])
    for key in (*PEOPLE_LISTS, "genres", "tags"):
        body[key] = [dict(entry) for entry in body.get(key) or [] if isinstance(entry, Mapping)]
    guessed = tuple(lock for lock in UNREADABLE_LOCKS if lock not in chapter)
    for lock in (*guessed, *(lock for lock in CHAPTER_LOCKS.values() if lock not in body)):
        body[lock] = False
    body.setdefault("releaseDate", NO_DATE)
    return body, guessed


def plan_chapter(
    chapter: Mapping[str, Any], fields: Mapping[str, str], *, force: bool, lock: bool, people: bool = True
) -> ChapterPlan:
    """Compare the chapter with a ComicInfo's fields; ``people=False`` leaves the people to a scan of the file."""
    body, guessed = current_body(chapter)
    plan = ChapterPlan(None, unreadable_locks=guessed)

    def change(name: str, old: Any, new: Any) -> bool:
        lock_name = CHAPTER_LOCKS.get(name)
        if lock_name and chapter.get(lock_name) and not force:
            plan.kept[name] = old
            return False
        plan.changes[name] = (old, new)
        if lock and lock_name:
            body[lock_name] = True
        return True

    def scalar(name: str, new: Any, same: bool) -> None:
        if new not in (None, "") and not same and change(name, chapter.get(name), new):
            body[name] = new

    title = (fields.get("Title") or "").strip()
    scalar("titleName", title, (chapter.get("titleName") or "").strip() == title)
    summary = (fields.get("Summary") or "").strip()
    scalar("summary", summary, (chapter.get("summary") or "").strip() == summary)
    date = release_date(fields)
    scalar("releaseDate", date, same_date(chapter.get("releaseDate"), date))
    isbn = isbn_of(fields)
    scalar("isbn", isbn, (chapter.get("isbn") or "") == (isbn or ""))
    language = (fields.get("LanguageISO") or "").strip()
    scalar("language", language, (chapter.get("language") or "") == language)
    links = web_links(chapter.get("webLinks"), fields.get("Web"))
    if fields.get("Web") and not same_links(chapter.get("webLinks"), links):
        plan.changes["webLinks"] = (chapter.get("webLinks"), links)  # Kavita has no lock for links
        body["webLinks"] = links
    for element, key, title_key in (("Genre", "genres", "title"), ("Tags", "tags", "title")):
        ours = split_values(fields.get(element))
        now = names(chapter.get(key), title_key)
        wanted = merged_names(now, ours)
        if ours and not same_names(now, wanted) and change(key, now, wanted):
            body[key] = [{"title": value} for value in wanted]
    if people:
        for element, key, _lock, role in PEOPLE:
            ours = split_values(fields.get(element))
            now = names(chapter.get(key))
            if ours and not same_names(now, ours) and change(key, now, ours):
                body[key] = [{"name": name, "role": role} for name in ours]
    if plan.changes:
        plan.body = body
    return plan

"""PostgreSQL's twin of SQLite's ``library_search`` (FTS5): the full-text index behind ``ls``.

SQLite splits the series, title, publisher and path of each file into words, folds case and accents
(``unicode61 remove_diacritics 2``) and finds a word by its beginning. PostgreSQL does the same with
its own full-text search, so that one query gives the same files on both:

- ``library_search_fold(text)`` turns every character that is not a letter or a digit into a space
  and every letter into its lower-case form without accents (``É`` → ``e``), by ``translate`` over
  a table built here from the Unicode data (Latin letters and the punctuation of Latin text). No
  extension is needed: ``unaccent`` may not be installable by the database's owner, and the
  parser of ``to_tsvector`` alone would keep ``/library/les`` or ``foo_bar.cbz`` as single words.
- ``library_search_words(text)`` is the ``tsvector`` of the folded text (``simple`` configuration:
  no stemming, no stop words), and four GIN expression indexes hold it for ``series``, ``title``,
  ``editor`` and ``file_path``: nothing to keep in step, no column that SQLite does not have.
- ``library_search_prefix(word)`` is the ``tsquery`` matching the words that begin with ``word``
  folded the same way, so the query side never needs a copy of the table.

The functions' bodies are built from the table once, when the migration runs; a later Python
with newer Unicode data changes nothing for a database made before, since queries fold through the
database's own function.
"""

from __future__ import annotations

import itertools
import unicodedata

#: the columns of processed_files that ``ls`` searches by word, each with its own index
SEARCHED_COLUMNS = ("series", "title", "editor", "file_path")

# ASCII, Latin-1, Latin Extended-A/B, Latin Extended Additional, General Punctuation, currencies
FOLDED_RANGES = ((0x21, 0x7F), (0xA0, 0x250), (0x1E00, 0x1F00), (0x2000, 0x2070), (0x20A0, 0x20D0))


def _folded(char: str) -> str:
    """A space for a separator, else the letter in lower case without its accents.

    Digits other than 0-9 (``²``, ``½``) are separators: PostgreSQL's parser splits words there in
    a UTF-8 locale, and would not in the "C" locale; a space is the same in both."""
    category = unicodedata.category(char)
    if category[0] not in "LN" or category == "No":
        return " "
    folded = char.casefold()  # "ſ" is an "s", "µ" a "μ", as for SQLite
    if len(folded) != 1:  # translate() maps one character to one: "ß" stays
        folded = char.lower() if len(char.lower()) == 1 else char
    decomposed = unicodedata.normalize("NFD", folded)
    if all(unicodedata.combining(mark) for mark in decomposed[1:]):
        folded = decomposed[0]
    return folded


def fold_table() -> tuple[str, str]:
    """The characters ``library_search_fold`` changes, and what each becomes (for ``translate``)."""
    source, target = [], []
    for code in itertools.chain.from_iterable(range(low, high) for low, high in FOLDED_RANGES):
        char = chr(code)
        if unicodedata.category(char) == "Cn":  # unassigned
            continue
        folded = _folded(char)
        if folded != char:
            source.append(char)
            target.append(folded)
    return "".join(source), "".join(target)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def migration_sql() -> str:
    """The functions and indexes of the library search (PostgreSQL migration 7)."""
    source, target = fold_table()
    fold = f"pg_catalog.translate($1, {_literal(source)}, {_literal(target)})"
    indexes = "\n".join(
        f"CREATE INDEX idx_library_search_{column} ON processed_files USING GIN (library_search_words({column}));"
        for column in SEARCHED_COLUMNS
    )
    # each body calls only pg_catalog: an index expression must not depend on the search_path
    return f"""
CREATE FUNCTION library_search_fold(TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $fold$ SELECT {fold} $fold$;

CREATE FUNCTION library_search_words(TEXT) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $fold$ SELECT pg_catalog.to_tsvector('pg_catalog.simple', {fold}) $fold$;

CREATE FUNCTION library_search_prefix(TEXT) RETURNS tsquery
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $fold$ SELECT pg_catalog.to_tsquery('pg_catalog.simple', pg_catalog.quote_literal({fold}) || ':*') $fold$;

{indexes}
"""

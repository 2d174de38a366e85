"""Text normalisation shared by the filename parser, the catalogue index and the scorer.

Bédéthèque slugs drop accents and punctuation ("L-Epee-de-Feu"); file names keep them
("L'Épée de feu"). Both must meet in one form: lower case, no accents, words separated
by single spaces. These functions run on every catalogue name, so they stay simple.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters NFKD does not decompose, and '&' which French titles read as "et".
LIGATURES = str.maketrans(
    {
        "œ": "oe",
        "Œ": "oe",
        "æ": "ae",
        "Æ": "ae",
        "ß": "ss",
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "&": " et ",
    }
)
COMBINING_MARKS = re.compile(r"[\u0300-\u036f]+")
# Anything else that is not a plain letter or digit separates words: apostrophes (' and ’),
# quotes, « », dashes, dots, underscores and any non-Latin character.
NON_WORD = re.compile(r"[^0-9a-z]+")
ARTICLES = ("le", "la", "les", "l", "un", "une", "des", "the")
ARTICLE_SET = frozenset(ARTICLES)
# Bédéthèque moves a series' article to the end of its slug ('Tuniques-Bleues-Les'); only these
# are dropped there, since 'un'/'une'/'des' end real names ('Chapitre un').
TRAILING_ARTICLE_SET = frozenset(("le", "la", "les", "l", "the"))
# "Tuniques Bleues (Les)", "Epée de feu (L')" as catalogues and libraries write them
TRAILING_ARTICLE = re.compile(r"^(?P<name>.+?)\s*\((?P<article>les|le|la|l'|l’|the|un|une|des)\)\s*$", re.IGNORECASE)
LEADING_ARTICLE = re.compile(
    r"^(?:(?P<word>les|le|la|the|un|une|des)\s+|(?P<elided>l)\s*['’]\s*)(?P<rest>\S.*)$", re.IGNORECASE
)


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Lower case, accents and punctuation removed, single spaces: "L'Épée" -> 'l epee'."""
    if text.isascii():  # the common case (slugs, most file names): skip Unicode work
        if "&" in text:
            text = text.replace("&", " et ")
        return NON_WORD.sub(" ", text.lower()).strip()
    decomposed = unicodedata.normalize("NFKD", text.translate(LIGATURES))
    return NON_WORD.sub(" ", COMBINING_MARKS.sub("", decomposed).lower()).strip()


def slug_words(slug: str) -> str:
    """A URL slug ('L-Epee-de-Feu') in the normalised form ('l epee de feu')."""
    words = slug.split("-")
    # most slugs are ASCII words joined by single hyphens: their normal form is at hand (300,000 per update)
    if slug.isascii() and all(word.isalnum() for word in words):
        return " ".join(words).lower()
    return normalize(slug)


def strip_articles(normalized: str) -> str:
    """Drop a leading article, and one moved to the end as slugs do, from a normalised name.

    'les tuniques bleues' and 'tuniques bleues les' both give 'tuniques bleues'.
    """
    head, _, rest = normalized.partition(" ")
    if rest and head in ARTICLE_SET:
        return rest
    rest, _, tail = normalized.rpartition(" ")
    return rest if rest and tail in TRAILING_ARTICLE_SET else normalized


def move_article(name: str) -> list[str]:
    """Other ways to write a name with its article: 'Tuniques Bleues (Les)' <-> 'Les Tuniques Bleues'.

    Returns the alternatives (not the name itself), human-readable: the article moved to the
    other end, then the name without article. Empty when the name has no article.
    """
    name = name.strip()
    trailing = TRAILING_ARTICLE.match(name)
    if trailing:
        article, rest = trailing["article"], trailing["name"]
        joined = f"{article[0].upper()}'{rest}" if article[-1] in "'’" else f"{article.capitalize()} {rest}"
        return [joined, rest]
    leading = LEADING_ARTICLE.match(name)
    if not leading:
        return []
    article = f"{leading['elided']}'" if leading["elided"] else leading["word"]
    rest = leading["rest"]
    return [f"{rest} ({article.capitalize()})", rest]


def key_forms(name: str) -> set[str]:
    """Every normalised form under which a series name should be found."""
    forms = {normalize(name)}
    forms.update(normalize(alternative) for alternative in move_article(name))
    forms.update({strip_articles(form) for form in list(forms)})
    return {form for form in forms if form}


SPECIAL_TOME = re.compile(r"^(HS|INT)\s*(\d+\w*)$", re.IGNORECASE)


def readable_tome(tome: str | None) -> str:
    """A tome as a person writes it: 'HS15' -> 'HS 15', 'INT3' -> 'INT 3', '1a' as it is."""
    if not tome:
        return ""
    special = SPECIAL_TOME.match(tome.strip())
    return f"{special[1].upper()} {special[2]}" if special else tome.strip()

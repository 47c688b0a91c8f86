"""The text analyser every search adapter shares, so each matches words the same way.

Analysis: case-fold, decompose (NFKD), drop diacritics (non-spacing marks),
then split into runs of letters, digits and spacing marks; everything else
(punctuation, symbols, FTS operators, quotes) separates words.
"Zürich C++/Go-lang" -> ("zurich", "c", "go", "lang").

A query is analysed the same way: every term must match a word of the
document, the last one also as a prefix. Text that leaves no terms (only
punctuation, say) is treated like an empty query, so hostile input never
becomes a syntax error.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from domain.search import ExpertDocument

# Relative importance of a match in each field; headline > skills > bio.
HEADLINE_WEIGHT = 10.0
SKILLS_WEIGHT = 4.0
BIO_WEIGHT = 1.0

# Spacing marks (Mc, Me) carry meaning in Indic scripts, so they stay inside words.
_WORD_CATEGORIES = frozenset({"Mc", "Me", "Co"})


def analyse(text: str) -> tuple[str, ...]:
    """The searchable words of ``text``, lower-case and without diacritics."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    words: list[str] = []
    current: list[str] = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category == "Mn":
            continue  # a diacritic: "é" and "e" are the same word
        if category[0] in "LN" or category in _WORD_CATEGORIES:
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return tuple(words)


@dataclass(frozen=True, slots=True)
class AnalysedDocument:
    """The words of each searchable field of an ExpertDocument."""

    headline: tuple[str, ...]
    skills: tuple[str, ...]
    bio: tuple[str, ...]

    def weighted_fields(self) -> tuple[tuple[tuple[str, ...], float], ...]:
        """Each field's words with its weight, headline first."""
        return ((self.headline, HEADLINE_WEIGHT), (self.skills, SKILLS_WEIGHT), (self.bio, BIO_WEIGHT))


def analyse_document(document: ExpertDocument) -> AnalysedDocument:
    """The analysed headline, skills and bio of ``document``."""
    return AnalysedDocument(
        headline=analyse(document.headline),
        skills=analyse(" ".join(document.skills)),
        bio=analyse(document.bio),
    )


def query_terms(text: str) -> tuple[str, ...]:
    """The words a query requires; the last one also matches as a prefix."""
    return analyse(text)

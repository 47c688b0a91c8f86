"""Skills and languages: normalised tags."""

from __future__ import annotations

import re

from domain.errors import InvalidInput

MAX_SKILLS = 20
MAX_LANGUAGES = 10
_SKILL_CHARS = re.compile(r"^[a-z0-9][a-z0-9+#.\-]{0,39}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
# What a client may send, before normalising (spaces trimmed, case folded, runs of space or
# underscore made one hyphen): the API schema publishes these, so they say exactly what
# normalise_skill and normalise_languages accept (a property test holds them to it). The
# Kelvin sign is there because str.lower() makes it a "k". A run counts as one character,
# and the lookahead keeps the regex from trying every way to split a long run.
SKILL_INPUT_PATTERN = r"^\s*[A-Za-z0-9\u212a](?:[A-Za-z0-9+#.\-\u212a]|[\s_]+(?=[^\s_]|\s*$)){0,39}\s*$"
LANGUAGE_INPUT_PATTERN = r"^\s*[A-Za-z\u212a]{2}\s*$"


def normalise_skill(raw: str) -> str:
    """'  Machine Learning ' -> 'machine-learning'. Raises InvalidInput if nothing valid is left."""
    tag = re.sub(r"[\s_]+", "-", raw.strip().lower())
    if not _SKILL_CHARS.match(tag):
        raise InvalidInput.on_field("skills", f"Invalid skill {raw!r}: use letters, digits, + # . - (max 40).")
    return tag


def normalise_skills(raw: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Normalised, de-duplicated, order-preserving; at most MAX_SKILLS."""
    skills = tuple(dict.fromkeys(normalise_skill(s) for s in raw))
    if len(skills) > MAX_SKILLS:
        raise InvalidInput.on_field("skills", f"At most {MAX_SKILLS} skills.")
    return skills


def normalise_languages(raw: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """ISO 639-1 codes, lower-case, de-duplicated; at most MAX_LANGUAGES."""
    languages = tuple(dict.fromkeys(code.strip().lower() for code in raw))
    bad = [code for code in languages if not _LANGUAGE.match(code)]
    if bad:
        raise InvalidInput.on_field("languages", f"Not ISO 639-1 language codes: {', '.join(bad)}.")
    if len(languages) > MAX_LANGUAGES:
        raise InvalidInput.on_field("languages", f"At most {MAX_LANGUAGES} languages.")
    return languages

"""The published input patterns of skills and languages accept exactly what the domain normalises."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.skills import LANGUAGE_INPUT_PATTERN, SKILL_INPUT_PATTERN, normalise_languages, normalise_skill

# Skill characters, separators, case, and the odd ones out (Kelvin sign, dotted I, no-break space).
TAG_ALPHABET = st.sampled_from(list("aZ09+#.-_ \t!é\u212a\u0130\u00a0"))


def accepted(normalise: object, raw: str) -> bool:
    try:
        normalise(raw)  # type: ignore[operator]
    except InvalidInput:
        return False
    return True


@given(st.text(TAG_ALPHABET, max_size=45) | st.text(max_size=8))
@example(" Machine  Learning ")
@example("a" + "_" * 60 + "b")
@example("a" * 40 + "   ")
@example("a" * 41)
def test_the_skill_pattern_is_what_normalise_skill_accepts(raw: str) -> None:
    assert bool(re.fullmatch(SKILL_INPUT_PATTERN, raw)) == accepted(normalise_skill, raw)


@given(st.text(st.sampled_from(list("aZ9 \t\u212a\u0130")), max_size=4) | st.text(max_size=4))
@example(" EN ")
def test_the_language_pattern_is_what_normalise_languages_accepts(raw: str) -> None:
    assert bool(re.fullmatch(LANGUAGE_INPUT_PATTERN, raw)) == accepted(lambda code: normalise_languages([code]), raw)

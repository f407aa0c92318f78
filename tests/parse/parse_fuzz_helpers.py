"""Shared helpers for the parser self-tests: fixture loading and the fuzz property."""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from lbconformance.parse import ParseError

DATA = Path(__file__).parent / "data"

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def data(name: str) -> str:
    return (DATA / name).read_text()


def mutations(*examples: str, alphabet: str = "") -> st.SearchStrategy[str]:
    """Random text, plus real examples with a slice cut, replaced or duplicated."""
    noise = st.text(alphabet=st.sampled_from(list(alphabet)) if alphabet else st.characters(),
                    max_size=40)

    @st.composite
    def mutate(draw):
        text = draw(st.sampled_from(examples))
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 30)))
        how = draw(st.sampled_from(["replace", "cut", "dup", "insert"]))
        if how == "cut":
            return text[:i] + text[j:]
        if how == "dup":
            return text[:j] + text[i:]
        filler = draw(noise)
        return text[:i] + filler + (text[j:] if how == "replace" else text[i:])

    return st.one_of(st.text(max_size=200), noise, mutate()) if examples else st.text(max_size=300)


def only_parse_error(fn, text: str, *args, **kwargs):
    """Call a parser; pass if it returns or raises ParseError (anything else fails)."""
    try:
        return fn(text, "fuzz.txt", *args, **kwargs)
    except ParseError as e:
        assert e.source == "fuzz.txt"
        assert str(e).startswith("fuzz.txt")
        return None

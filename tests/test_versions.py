"""The one set of version parsers (dldoctor.knowledge.versions): known spellings, round trips, and garbage
in -> None (or an empty key), never an exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dldoctor.knowledge.versions import (
    capability_text,
    cuda_of_tag,
    cuda_tag,
    major,
    major_minor,
    minor_of,
    parse_capability,
    release_key,
    sm_name,
    version,
)

ANYTHING = st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.booleans(), st.binary())


@pytest.mark.parametrize(("text", "expected"), [
    ("2.7.1", (2, 7)), ("2.13.0+cpu", (2, 13)), ("12", (12, 0)), ("12.6.3", (12, 6)), ("535.104.05", (535, 104)),
    ("6.2.41133-dd7f95766", (6, 2)), (" 11.8 ", (11, 8)), ("", None), ("cuda", None), ("v", None),
])
def test_major_minor(text: str, expected: tuple[int, int] | None) -> None:
    assert major_minor(text) == expected
    assert minor_of(text) == (f"{expected[0]}.{expected[1]}" if expected else None)


@pytest.mark.parametrize(("text", "expected"), [
    ("8.6", (8, 6)), ("86", (8, 6)), ("sm_86", (8, 6)), ("compute_90", (9, 0)), ("sm_90a", (9, 0)),
    ("12.0", (12, 0)), ("120", (12, 0)), ("sm_100f", (10, 0)), ("SM_75", (7, 5)),
    ("", None), ("sm_", None), ("8", None), ("x.y", None), ("²²", None), ("gfx90a", None),
])
def test_parse_capability(text: str, expected: tuple[int, int] | None) -> None:
    assert parse_capability(text) == expected


@pytest.mark.parametrize(("tag", "cuda"), [
    ("cu126", "12.6"), ("cu118", "11.8"), ("cu130", "13.0"), ("cuda12.6", "12.6"), ("CU102", "10.2"),
    ("cpu", None), ("rocm6.2.4", None), ("xpu", None), ("cu1", None), ("cuda12", None),
])
def test_cuda_of_tag(tag: str, cuda: str | None) -> None:
    assert cuda_of_tag(tag) == cuda


def test_cuda_tag() -> None:
    assert cuda_tag("12.1") == "cu121"
    assert cuda_tag("12.1.105") == "cu121"
    assert cuda_tag("11.8") == "cu118"
    assert cuda_tag("12") == "cu120"
    assert cuda_tag("12.10") is None  # "cu1210" would read back as 121.0
    assert cuda_tag("none") is None


def test_driver_versions_compare_as_numbers() -> None:
    assert release_key("535.104.05") == (535, 104, 5)
    assert sorted(["550.54.14", "535.104.05", "99.1", "bogus"], key=release_key) == [
        "bogus", "99.1", "535.104.05", "550.54.14"]
    assert major("535.104.05") == 535
    old, new = version("470.82.01"), version("470.199.02")
    assert old is not None and new is not None and old < new


@given(ANYTHING)
def test_garbage_never_raises(value: object) -> None:
    for parse in (version, major_minor, minor_of, major, parse_capability, cuda_tag, cuda_of_tag):
        parse(value)
    assert isinstance(release_key(value), tuple)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-!? ", max_size=12))
def test_text_without_digits_is_none(text: str) -> None:
    assert version(text) is None
    assert major_minor(text) is None
    assert parse_capability(text) is None
    assert cuda_of_tag(text) is None
    assert release_key(text) == ()


@given(st.integers(0, 40), st.integers(0, 9))
def test_capability_round_trips(major_: int, minor: int) -> None:
    cc = (major_, minor)
    assert parse_capability(capability_text(cc)) == cc
    assert parse_capability(sm_name(cc)) == cc
    assert parse_capability(f"compute_{major_}{minor}") == cc


@given(st.integers(1, 99), st.integers(0, 9), st.integers(0, 999))
def test_cuda_tag_round_trips(major_: int, minor: int, patch: int) -> None:
    tag = cuda_tag(f"{major_}.{minor}.{patch}")
    assert tag == f"cu{major_}{minor}"
    assert cuda_of_tag(tag) == f"{major_}.{minor}"
    assert cuda_of_tag(f"cuda{major_}.{minor}") == f"{major_}.{minor}"


@given(st.lists(st.integers(0, 999), min_size=1, max_size=4))
def test_release_key_and_major_minor_read_dotted_numbers(parts: list[int]) -> None:
    text = ".".join(str(p) for p in parts)
    assert release_key(text) == tuple(parts)
    assert major_minor(text) == (parts[0], parts[1] if len(parts) > 1 else 0)
    assert major(text) == parts[0]

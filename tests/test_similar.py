"""The learned fallback: nearest labelled example, its training data, its limits."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from cfs_spiders.config import vocab
from cfs_spiders.normalize import training, vera
from cfs_spiders.normalize.similar import (
    Example,
    SimilarityIndex,
    char_ngrams,
    is_uninformative,
)

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "tests" / "fixtures" / "reference"
DATA = ROOT / "cfs_spiders" / "normalize" / "data"

# Synthetic examples for the mechanics (not captured values).
SYNTHETIC = [
    Example("LOUD PARTY", "disturbance", "synthetic"),
    Example("LOUD MUSIC", "disturbance", "synthetic"),
    Example("NOISE COMPLAINT", "disturbance", "synthetic"),
    Example("STRUCTURE FIRE", "fire", "synthetic"),
    Example("BRUSH FIRE", "fire", "synthetic"),
    Example("VEHICLE FIRE", "fire", "synthetic"),
]


def test_nearest_example_and_threshold() -> None:
    index = SimilarityIndex(SYNTHETIC, threshold=0.5, k=3)
    hit = index.query("LOUD PARTIES")
    assert hit is not None
    assert (hit.category, hit.example, hit.source) == (
        "disturbance",
        "LOUD PARTY",
        "synthetic",
    )
    assert 0.5 <= hit.similarity <= 1.0
    assert index.query("zzqx") is None
    assert index.query("") is None and index.query(None) is None
    # The same text with a higher threshold stays unmapped.
    strict = SimilarityIndex(SYNTHETIC, threshold=0.99, k=3)
    assert strict.query("LOUD PARTIES") is None


def test_neighbours_must_agree() -> None:
    """A value halfway between two categories is left unmapped."""
    mixed = [
        Example("ALPHA BRAVO", "fire", "synthetic"),
        Example("ALPHA CHARLIE", "medical", "synthetic"),
        Example("ALPHA DELTA", "animal", "synthetic"),
    ]
    loose = SimilarityIndex(mixed, threshold=0.1, k=3, min_share=0.0)
    strict = SimilarityIndex(mixed, threshold=0.1, k=3, min_share=0.6)
    assert loose.query("ALPHA") is not None
    assert strict.query("ALPHA") is None


@pytest.mark.parametrize(
    ("text", "empty"),
    [
        ("OTHER", True),
        ("40/01 - OTHER", True),
        ("41/40 - OTHER - IN PROGRESS", True),
        ("MISC", False),  # a low-confidence rule reads it (see similar.py)
        ("ASSIST OTHER", False),
        ("THEFT - ALL OTHER", False),
        ("OTHER DISTURBANCE", False),
        ("40 - FIGHT", False),
    ],
)
def test_catch_all_values_are_not_guessed(text: str, empty: bool) -> None:
    """A bare catch-all names no kind of call; the crosswalks of the project
    read it both ways, so the fallback neither learns from it nor answers it."""
    from cfs_spiders.normalize.rules import normalize_text

    assert is_uninformative(normalize_text(text)) is empty
    # Synthetic index with a catch-all example: it is not kept.
    index = SimilarityIndex(
        [*SYNTHETIC, Example("Other", "assist_public", "synthetic")], threshold=0.1
    )
    assert all(ex.text != "Other" for ex in index.examples)
    if empty:
        assert index.query(text) is None
    # The shipped index answers none of them either, whatever it was taught.
    if empty:
        assert training.default_index().query(text) is None


def test_best_within_restricts_the_categories() -> None:
    index = SimilarityIndex(SYNTHETIC, threshold=0.2, k=3)
    # Nearest overall is a disturbance; restricted to fire, a fire example.
    assert index.query("LOUD FIRE PARTY").category == "disturbance"
    assert index.best_within("LOUD FIRE PARTY", frozenset({"fire"})) == "fire"
    assert index.best_within("LOUD PARTY", frozenset({"animal"})) is None


def test_deterministic() -> None:
    a = SimilarityIndex(SYNTHETIC).query("LOUD PARTIES")
    b = SimilarityIndex(list(SYNTHETIC)).query("LOUD PARTIES")
    assert a == b


def test_bad_examples_are_rejected() -> None:
    with pytest.raises(ValueError, match="category"):
        SimilarityIndex([Example("X", "unmapped", "synthetic")])
    with pytest.raises(ValueError, match="at least one"):
        SimilarityIndex([Example("---", "fire", "synthetic")])


def test_training_data_covers_every_source() -> None:
    index = training.default_index()
    sources = {ex.source.split(":")[0] for ex in index.examples}
    assert sources == {"crosswalk", "apco", "vera"}
    assert {ex.source for ex in index.examples if ex.source.startswith("vera:")} == {
        f"vera:{c}" for c in vera.CITIES
    }
    crosswalks = {
        ex.source for ex in index.examples if ex.source.startswith("crosswalk:")
    }
    assert crosswalks == {f"crosswalk:{f}" for f in training.labelled_feeds()}
    assert all(ex.category in vocab.CALL_TYPE_CATEGORIES for ex in index.examples)
    assert len(index) > 2000


def test_holding_out_removes_the_city_and_its_feeds() -> None:
    index = training.build_index(
        exclude_feeds=["tx_dallas_police_active_calls"], exclude_cities=["Dallas"]
    )
    sources = {ex.source for ex in index.examples}
    assert "vera:Dallas" not in sources
    assert "crosswalk:tx_dallas_police_active_calls" not in sources
    assert "vera:Seattle" in sources


def test_vera_labels_follow_the_review_table() -> None:
    """Vera's Dallas BMV rows are labelled traffic by Vera; the review table
    (E01) says property crime, and that is what the fallback learns."""
    examples = training.vera_examples()
    bmv = [e for e in examples if e.source == "vera:Dallas" and e.text == "BMV"]
    assert bmv and {e.category for e in bmv} == {"property_crime"}


def test_apco_table_covers_the_reference_list() -> None:
    with (REF / "apco_common_incident_types_2.103.2-2019.csv").open(
        encoding="utf-8"
    ) as fh:
        reference = {r["code"].strip() for r in csv.DictReader(fh)}
    with (DATA / "apco_call_types.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["code"] for r in rows} <= reference
    # Only the two codes that name no incident type are left out.
    assert reference - {r["code"] for r in rows} == {"NCRNONE", "NCRTASKFORCE"}
    for row in rows:
        assert row["category"] in vocab.CALL_TYPE_CATEGORIES
        assert row["category"] != "unmapped"


def test_shipped_reference_copies_match_the_fixtures() -> None:
    shipped = (DATA / "vera_call_types.csv").read_bytes()
    assert shipped == (REF / "vera_call_types.csv").read_bytes()


def test_shipped_review_table_matches_the_doc() -> None:
    doc = vera.parse_review((ROOT / "docs" / "VERA_REVIEW.md").read_text("utf-8"))
    assert tuple(doc) == vera.load_review_data()


def test_index_builds_fast_and_answers_are_cached() -> None:
    start = time.perf_counter()
    training.build_index()
    assert time.perf_counter() - start < 10
    from cfs_spiders.normalize import call_type

    call_type._categorize.cache_clear()
    call_type.categorize("SLEEPER")
    call_type.categorize("SLEEPER")
    assert call_type._categorize.cache_info().hits == 1


def test_pyproject_ships_the_data_files() -> None:
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    assert "normalize/data/*" in text


def test_char_ngrams_are_word_bounded() -> None:
    # As scikit-learn's char_wb analyzer: each word padded, a word shorter
    # than n counted once as a whole.
    assert char_ngrams("AB C") == [
        " A",
        "AB",
        "B ",
        " AB",
        "AB ",
        " AB ",
        " C",
        "C ",
        " C ",
    ]
    assert char_ngrams("") == []


def test_ranking_is_cosine_of_tfidf_vectors() -> None:
    """Identical text scores 1; a text sharing no n-gram scores nothing."""
    index = SimilarityIndex(SYNTHETIC, threshold=0.0, k=1, min_share=0.0)
    ranked = index._ranked("LOUD PARTY")
    assert ranked[0][1] == 0 and abs(ranked[0][0] - 1.0) < 1e-9
    assert all(0 < s <= 1.0 + 1e-9 for s, _ in ranked)
    assert index._ranked("QQQQ") == []

"""What attacks and the defender read of a table's rows with text columns (audit_core.core.records)."""

import numpy as np
import pandas as pd
import pytest

from audit_core.core.missing import feature_range
from audit_core.core.records import (
    MAX_CATEGORIES,
    RegressionFields,
    movable,
    number_columns,
    numbers,
    random_records,
    readable,
    text_columns,
    with_numbers,
)
from audit_core.data.table import record_array


@pytest.fixture
def rows() -> np.ndarray:
    """A table's rows as dynaudit loads them: ints, floats with a gap, bools, text with a gap, nullable ints,
    an all-empty column and free text (a value per row)."""
    n = 300
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "hours": np.where(rng.random(n) < 0.1, np.nan, rng.normal(40, 10, n)),
            "active": rng.random(n) < 0.5,
            "plan": np.where(rng.random(n) < 0.1, None, rng.choice(["basic", "pro", "team"], n)),
            "visits": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 9, n)), dtype="Int64"),
            "empty": [None] * n,
            "comment": [f"note {i}" for i in range(n)],
        }
    )
    return record_array(frame)


def test_number_columns_are_those_of_numbers_or_gaps_and_read_as_floats(rows):
    columns = number_columns(rows)
    assert columns.tolist() == [True, True, False, False, True, False, False]
    values = numbers(rows, columns)
    assert values.dtype == np.float64 and values.shape == (len(rows), 3) and values.flags.c_contiguous
    expected = pd.DataFrame(rows[:, columns].tolist()).astype("Float64").to_numpy(np.float64, na_value=np.nan)
    np.testing.assert_array_equal(values, expected)
    assert readable(rows) and movable(rows)
    assert not text_columns(rows).any()  # plans are single words, the comments two: no free text
    assert readable(rows[:, 5:]) and not movable(rows[:, 5:])  # no number to move, no text to shorten
    sentences = rows[:, 6:].copy()
    sentences[:, 0] = [f"note {i} about the visit" for i in range(len(rows))]
    assert text_columns(sentences).tolist() == [True] and movable(sentences)
    sentences[::2, 0] = "the same words again"  # a value shared by half the records is still free text
    assert text_columns(sentences).tolist() == [True]
    sentences[:, 0] = np.array(["United States", "New York City", "occupation 3"])[np.arange(len(rows)) % 3]
    assert text_columns(sentences).tolist() == [False]  # categories of several words, repeated
    assert not readable(np.array(["a text", "another"], dtype=object))  # raw records, not a table's rows


def test_moved_numbers_replace_the_number_columns_and_the_rest_stays(rows):
    columns = number_columns(rows)
    moved = numbers(rows[:4], columns)[:, None] + np.arange(3.0)[None, :, None]  # (4 records, 3 queries)
    queries = with_numbers(rows[:4], columns, moved)
    assert queries.shape == (4, 3, 7)
    np.testing.assert_array_equal(queries[..., columns].astype(np.float64), moved)
    for q in range(3):
        assert queries[:, q, ~columns].tolist() == rows[:4, ~columns].tolist()


def test_a_regressor_reads_text_as_categories_and_leaves_free_text_out(rows):
    fields = RegressionFields.fit(rows)
    assert sorted(fields.categories) == [2, 3]  # active and plan; empty and comment left out
    assert list(fields.categories[3]) == list(pd.unique(rows[:, 3][pd.notna(rows[:, 3])].astype(str)))
    encoded = fields.encode(rows)
    assert encoded.shape == (len(rows), 3 + 2)
    assert fields.categorical.tolist() == [False, False, False, True, True]
    plan = encoded[:, 4]
    assert np.array_equal(np.isnan(plan), pd.isna(rows[:, 3]))  # a gap stays a gap
    known = fields.categories[3]
    assert [known[int(c)] for c in plan[~np.isnan(plan)]] == list(rows[:, 3][pd.notna(rows[:, 3])])
    unseen = rows[:2].copy()
    unseen[:, 3] = "enterprise"  # a value the population never had
    assert np.isnan(fields.encode(unseen)[:, 4]).all()
    many = np.array([[f"v{i}"] for i in range(MAX_CATEGORIES + 1)], dtype=object)
    assert RegressionFields.fit(many).categories == {} and RegressionFields.fit(many[1:]).categories


def test_random_records_draw_each_field_in_the_populations_range_or_among_its_values(rows):
    drawn = random_records(rows, 500, np.random.default_rng(1))
    columns = number_columns(rows)
    values = drawn[:, columns].astype(np.float64)
    low, high = feature_range(numbers(rows, columns))
    assert ((values >= low) & (values <= high)).all()
    for j in np.flatnonzero(~columns):
        present = set(rows[:, j][pd.notna(rows[:, j])].tolist())
        assert set(drawn[:, j].tolist()) <= (present or {None})
    assert len(set(drawn[:, 3].tolist())) == 3  # every plan drawn, no gap
    numeric = np.random.default_rng(2).normal(size=(50, 4)).astype(np.float32)
    expected = np.random.default_rng(3).uniform(*feature_range(numeric), size=(7, 4)).astype(np.float32)
    np.testing.assert_array_equal(random_records(numeric, 7, np.random.default_rng(3)), expected)


def test_whole_random_records_are_whole_numbers_spread_over_the_populations_range():
    """For a model of token ids: every drawn value a whole number between the column's smallest and largest,
    both included, each of them drawn about equally often."""
    tokens = np.array([[2, 0, 10], [5, 0, 12], [3, 0, 11]], dtype=np.float32)
    drawn = random_records(tokens, 4000, np.random.default_rng(4), whole=True)
    assert drawn.dtype == np.float32 and (drawn == np.round(drawn)).all()
    for column, values in enumerate((range(2, 6), [0], range(10, 13))):
        counts = pd.Series(drawn[:, column]).value_counts()
        assert sorted(counts.index) == list(values)
        expected = 4000 / len(values)  # binomial counts: 5 standard deviations of slack
        assert (abs(counts - expected) <= 5 * np.sqrt(expected)).all()

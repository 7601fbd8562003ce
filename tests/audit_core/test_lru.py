"""The byte-budgeted LRU the audit's memos share: what it keeps, in what order it drops, what it counts."""

from audit_core.core.lru import BytesLRU


def test_the_least_recently_used_go_first_and_a_look_without_touch_leaves_the_order():
    kept = BytesLRU[str, int](max_bytes=30)
    for key in "abc":
        kept.put(key, ord(key), 10)
    assert kept.get("a", touch=False) == ord("a")  # still the least recently used
    kept.put("d", 0, 10)
    assert list(kept) == ["b", "c", "d"] and kept.bytes == 30
    assert kept.get("b") == ord("b")  # now the most recent: c goes next
    kept.put("e", 0, 10)
    assert list(kept) == ["d", "b", "e"]


def test_a_value_over_the_budget_is_not_kept_and_drops_nothing_and_a_replacement_recounts():
    kept = BytesLRU[str, str](max_bytes=10)
    kept.put("a", "small", 4)
    kept.put("huge", "x", 11)
    assert "huge" not in kept and list(kept) == ["a"] and kept.bytes == 4
    kept.put("a", "larger", 9)
    assert kept.get("a") == "larger" and kept.bytes == 9 and len(kept) == 1
    kept.discard("a")
    kept.discard("a")
    assert kept.bytes == 0 and len(kept) == 0

from __future__ import annotations

from clickpath.domain import recent_ids


def test_the_window_keeps_the_newest_ids_only() -> None:
    window = ""
    for i in range(300):
        window = recent_ids.remember(window, recent_ids.digest(f"ev-{i}"), 256)
    assert len(window) == 256 * recent_ids.WIDTH
    assert recent_ids.seen(window, "ev-299") and recent_ids.seen(window, "ev-44")
    assert not recent_ids.seen(window, "ev-43") and not recent_ids.seen(window, "never")


def test_only_whole_slots_match() -> None:
    d = recent_ids.digest("x")
    straddling = "A" * 5 + d + "B" * 6  # two slots; the digest sits across their boundary
    assert not recent_ids.seen(straddling, "x")
    assert recent_ids.seen("A" * recent_ids.WIDTH + d, "x")

"""`clickpath sql` says why an answer was cut (issue 21 item 23): rows, or bytes."""

from __future__ import annotations

from clickpath.domain.analytics_rows import render_sql


def test_a_cut_answer_says_which_limit_cut_it() -> None:
    answer = {"columns": ["a"], "types": ["String"], "rows": [["x"]], "truncated": True,
              "truncated_reason": "over 8388608 bytes"}
    assert "Truncated: only the first 1 rows (the answer had over 8388608 bytes)." in render_sql(
        answer, "table"
    )
    whole = {**answer, "truncated": False, "truncated_reason": None}
    assert "Truncated" not in render_sql(whole, "table")

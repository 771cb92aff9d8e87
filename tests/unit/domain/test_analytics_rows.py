"""Rows and renderings of the analyst reports (clickpath/domain/analytics_rows.py): credit rows
carry exact decimal strings, CSV one column per currency or period, the table rounds and says
that organic conversions are not credited."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from clickpath.domain.analytics_rows import (
    COHORT_COLUMNS,
    ORGANIC_NOTE,
    credit_rows,
    params_problem,
    render_attribution,
    render_cohorts,
    render_retention,
    render_sql,
)
from clickpath.domain.multitouch import Credit

THIRD = Decimal(1) / Decimal(3)
CREDITS = [
    Credit("shapley", "aff-2", Decimal("0.5"), {"EUR": Decimal("12.50")}),
    Credit("first", "aff-2", THIRD, {"EUR": Decimal("10"), "BTC": Decimal("0.0005")}),
    Credit("first", "aff-1", Decimal("1E+1"), {}),
]


def test_credit_rows_by_affiliate_in_model_order_with_exact_strings() -> None:
    rows = credit_rows(CREDITS, by="affiliate", conversion="ftd")
    assert [(r["model"], r["affiliate_id"]) for r in rows] == [
        ("first", "aff-1"),
        ("first", "aff-2"),
        ("shapley", "aff-2"),
    ]
    assert rows[0] == {
        "model": "first",
        "affiliate_id": "aff-1",
        "conversion": "ftd",
        "conversions": "10",
        "value": {},
    }
    assert rows[1]["conversions"] == f"{THIRD:f}"  # the credit as the model gave it
    assert rows[1]["value"] == {"BTC": "0.0005", "EUR": "10"}
    assert "campaign_id" not in rows[1]


def test_credit_rows_by_campaign_split_the_channel_at_the_first_slash() -> None:
    rows = credit_rows(
        [Credit("last", "aff-1/spring/2026", Decimal(1), {})], by="campaign", conversion="registration"
    )
    assert (rows[0]["affiliate_id"], rows[0]["campaign_id"]) == ("aff-1", "spring/2026")


def test_attribution_json_csv_and_table() -> None:
    rows = credit_rows(CREDITS, by="affiliate", conversion="registration")
    assert json.loads(render_attribution(rows, "json")) == rows
    table = list(csv.reader(io.StringIO(render_attribution(rows, "csv"))))
    assert table[0] == ["model", "affiliate_id", "conversion", "conversions", "value_BTC", "value_EUR"]
    assert table[2] == ["first", "aff-2", "registration", f"{THIRD:f}", "0.0005", "10"]
    assert table[1][-2:] == ["0", "0"]  # no value in a currency: zero, not blank
    text = render_attribution(rows, "table")
    assert "0.33" in text and "12.50 EUR" in text and "0.00 BTC, 10.00 EUR" in text
    assert ORGANIC_NOTE.split(":")[0] in " ".join(text.split())


def test_the_wide_layout_puts_the_models_side_by_side() -> None:
    """README: `report attribution --layout wide` shows each affiliate once, a column per model."""
    rows = credit_rows(CREDITS, by="affiliate", conversion="registration")
    wide = json.loads(render_attribution(rows, "json", "wide"))
    assert [w["affiliate_id"] for w in wide] == ["aff-1", "aff-2"]
    assert wide[1]["conversions"] == {"first": f"{THIRD:f}", "shapley": "0.5"}
    assert wide[1]["value"] == {"first": {"BTC": "0.0005", "EUR": "10"}, "shapley": {"EUR": "12.50"}}
    table = list(csv.reader(io.StringIO(render_attribution(rows, "csv", "wide"))))
    assert table[0] == ["affiliate_id", "conversion", "currency", "first_conversions",
                        "shapley_conversions", "first_value", "shapley_value"]
    assert table[1:] == [
        ["aff-1", "registration", "", "10", "", "", ""],
        ["aff-2", "registration", "BTC", f"{THIRD:f}", "0.5", "0.0005", "0"],
        ["aff-2", "registration", "EUR", "", "", "10", "12.50"],  # credit once per channel
    ]
    text = render_attribution(rows, "table", "wide")
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    assert [c.strip() for c in header.strip("┃").split("┃")] == [
        "affiliate", "currency", "first", "shapley", "first value", "shapley value"]
    assert "attribution of registration" in text
    assert sum(line.startswith("│ aff-2") for line in text.splitlines()) == 2


def test_an_empty_attribution_says_so() -> None:
    assert "No converted paths" in render_attribution([], "table")
    assert render_attribution([], "csv").splitlines() == ["model,affiliate_id,conversion,conversions"]


COHORT = {
    "brand_id": "b",
    "affiliate_id": "aff-1",
    "campaign_id": "c1",
    "cohort": "2026-01-01",
    "currency": "EUR",
    "players": 3,
    "ftds": 2,
    "deposits_30": "100.5",
    "deposits_90": "150",
    "deposits_365": "150",
    "ngr_30": "40.125",
    "ngr_90": "60",
    "ngr_365": "60",
    "cpa_accrued": None,
    "cpa_to_ltv_365": None,
}


def test_cohorts_csv_has_every_figure_and_blank_for_none() -> None:
    table = list(csv.reader(io.StringIO(render_cohorts([COHORT], "csv"))))
    assert table[0] == list(COHORT_COLUMNS)
    assert table[1][COHORT_COLUMNS.index("ngr_30")] == "40.125"
    assert table[1][COHORT_COLUMNS.index("cpa_accrued")] == ""
    text = render_cohorts([COHORT], "table")
    assert "100.50" in text and "40.12" in text and "LTV 365d" in text


def test_retention_csv_has_a_column_per_period_and_the_table_shares() -> None:
    rows = [
        {
            "brand_id": "b",
            "affiliate_id": "aff-1",
            "campaign_id": "c1",
            "cohort": "2026-01-01",
            "players": 4,
            "active": [4, 2, 1],
            "retention": [1.0, 0.5, 0.25],
        },
        {
            "brand_id": "b",
            "affiliate_id": "aff-2",
            "campaign_id": "",
            "cohort": "2026-02-01",
            "players": 2,
            "active": [2],
            "retention": [1.0],
        },
    ]
    table = list(csv.reader(io.StringIO(render_retention(rows, "csv"))))
    assert table[0][5:] == ["active_0", "active_1", "active_2", "retention_0", "retention_1", "retention_2"]
    assert table[2][5:] == ["2", "", "", "1.0", "", ""]
    text = render_retention(rows, "table")
    assert "50.0%" in text and "25.0%" in text


def test_retention_says_how_long_a_period_is_and_what_active_means() -> None:
    rows = [{"brand_id": "b", "affiliate_id": "a", "campaign_id": "", "cohort": "2026-01-01",
             "players": 4, "active": [4, 2], "retention": [1.0, 0.5]}]
    text = render_retention(rows, "table")
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    assert [c.strip() for c in header.strip("┃").split("┃")][-2:] == ["days 0–29", "days 30–59"]
    assert "30-day period" in text
    assert "Active: at least one approved deposit or real-money stake" in " ".join(text.split())


def test_a_cohorts_players_are_shown_once_not_on_every_currency_row() -> None:
    """Two currency rows of one cohort: 3 players, not 3 + 3 for whoever adds the column up."""
    rows = [COHORT, {**COHORT, "currency": "GBP", "ftds": 1},
            {**COHORT, "cohort": "2026-02-01", "players": 5}]
    table = list(csv.reader(io.StringIO(render_cohorts(rows, "csv"))))
    players = COHORT_COLUMNS.index("players")
    assert [r[players] for r in table[1:]] == ["3", "", "5"]
    text = render_cohorts(rows, "table")
    lines = [[c.strip() for c in line.strip("│").split("│")] for line in text.splitlines()
             if line.startswith("│")]
    assert [line[5] for line in lines] == ["3", "", "5"]
    assert json.loads(render_cohorts(rows, "json"))[1]["players"] == 3  # JSON keeps its fields


def test_sql_answers_render_in_each_format() -> None:
    answer = {
        "columns": ["affiliate_id", "ngr"],
        "types": ["String", "Map(String, Decimal)"],
        "rows": [["aff-1", {"EUR": "1.50"}], ["aff-2", None]],
        "truncated": True,
    }
    assert json.loads(render_sql(answer, "json")) == answer
    assert render_sql(answer, "csv").splitlines() == [
        "affiliate_id,ngr",
        'aff-1,"{""EUR"": ""1.50""}"',
        "aff-2,",
    ]
    text = render_sql(answer, "table")
    assert "2 rows" in text and "Truncated" in text


@pytest.mark.parametrize(
    ("half_life", "first", "last", "field"),
    [
        (0.0, "0.4", "0.4", "half_life_days"),
        (-1.0, "0.4", "0.4", "half_life_days"),
        (7.0, "-0.1", "0.4", "position_first"),
        (7.0, "0.4", "1.5", "position_last"),
        (7.0, "0.6", "0.5", "position_last"),
    ],
)
def test_model_parameters_that_make_no_sense_name_themselves(
    half_life: float, first: str, last: str, field: str
) -> None:
    problem = params_problem(half_life, Decimal(first), Decimal(last))
    assert problem is not None and problem[0] == field
    assert params_problem(7.0, Decimal("0.5"), Decimal("0.5")) is None

"""The funnel's table and CSV (issue 21 item 11): a brand column, one currency per row, numbers
a script can load (no "4726.50 CAD, 22294.50 EUR" cells, no "17.0%"), and a totals row."""

from __future__ import annotations

import csv
import io

from clickpath.domain.funnel_table import CSV_COLUMNS, currency_rows, render_rows, total_rows
from clickpath.domain.report import summarize

BASE = {"clicks": 0, "registrations": 0, "ftds": 0, "deposits": 0, "deposit_sum": "0"}
ROWS = [
    {**BASE, "brand_id": "goldbet", "affiliate_id": "aff-1", "campaign_id": "c", "currency": "",
     "clicks": 50, "registrations": 10},
    {**BASE, "brand_id": "goldbet", "affiliate_id": "aff-1", "campaign_id": "c", "currency": "CAD",
     "ftds": 1, "deposits": 2, "deposit_sum": "4726.50", "stakes": "100", "wins": "40"},
    {**BASE, "brand_id": "goldbet", "affiliate_id": "aff-1", "campaign_id": "c", "currency": "EUR",
     "ftds": 3, "deposits": 4, "deposit_sum": "22294.50", "chargebacks": 1, "chargeback_sum": "10"},
    {**BASE, "brand_id": "luckyspin", "affiliate_id": "aff-1", "campaign_id": "c", "currency": "",
     "clicks": 20, "registrations": 5},
    {**BASE, "brand_id": "luckyspin", "affiliate_id": "aff-1", "campaign_id": "c", "currency": "EUR",
     "ftds": 2, "deposits": 2, "deposit_sum": "100.00"},
]


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_has_snake_case_headers_and_numbers_one_currency_per_row() -> None:
    text = render_rows(summarize(ROWS), "csv")
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert all(name == name.lower() and " " not in name for name in CSV_COLUMNS)
    rows = csv_rows(text)
    assert [(r["brand_id"], r["currency"]) for r in rows] == [
        ("goldbet", "CAD"), ("goldbet", "EUR"), ("luckyspin", "EUR")]
    cad, eur, lucky = rows
    assert (cad["deposit_sum"], eur["deposit_sum"]) == ("4726.50", "22294.50")
    assert (cad["ftds"], eur["ftds"], eur["chargebacks"]) == ("1", "3", "1")
    assert cad["click_to_registration"] == "0.2" and cad["registration_to_deposit"] == "0.1"
    assert eur["registration_to_deposit"] == "0.3"  # its FTDs over the group's registrations
    assert (eur["clicks"], eur["registrations"]) == ("", "")  # on the group's first row only
    assert lucky["clicks"] == "20" and lucky["average_deposit"] == "50.00"
    assert (cad["ggr"], cad["ngr"], eur["ngr"]) == ("60.00", "60.00", "-10.00")
    for row in rows:  # every figure is a number or empty: no currency codes, no percent signs
        for name in CSV_COLUMNS[4:]:
            assert row[name] == "" or float(row[name]) == float(row[name]), (name, row[name])


def test_the_table_has_a_brand_column_one_currency_per_row_and_totals() -> None:
    text = render_rows(summarize(ROWS), "table")
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    assert header.split("┃")[1].strip() == "brand" and "currency" in header
    lines = [line for line in text.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in lines]
    assert [(c[0], c[3]) for c in cells] == [
        ("goldbet", "CAD"), ("goldbet", "EUR"), ("luckyspin", "EUR"),
        ("(total)", "CAD"), ("(total)", "EUR")]
    assert "," not in text.split("┡")[1].split("└")[0].replace("│", "")  # no "a CAD, b EUR" cells
    cad_total, eur_total = cells[3], cells[4]
    assert cad_total[4:6] == ["70", "15"]  # clicks and registrations of both brands, once
    assert eur_total[7] == "5" and eur_total[10] == "22394.50"  # FTDs, deposit sum in EUR
    assert eur_total[8] == "33.3%"  # 5 FTDs over 15 registrations
    assert cells[1][4:7] == ["", "", ""]  # clicks, registrations, click→reg: on the first row
    unattributed = {**ROWS[0], "affiliate_id": "", "clicks": 0}
    row = render_rows(summarize([unattributed]), "table").splitlines()[4]
    assert [c.strip() for c in row.strip("│").split("│")][6] == "-"  # no clicks: no rate


def test_totals_add_each_currency_up_and_count_clicks_once() -> None:
    rows = currency_rows(summarize(ROWS))
    cad, eur = total_rows(rows)
    assert (cad["clicks"], cad["registrations"], eur["clicks"]) == (70, 15, None)
    unattributed = {**ROWS[0], "affiliate_id": "", "clicks": 0, "registrations": 30}
    [total] = total_rows(currency_rows(summarize([ROWS[0], unattributed])))
    assert total["click_to_registration"] == 0.2  # 10 of 50 clicks: not (10 + 30) / 50
    assert (eur["deposits"], eur["deposit_sum"], eur["average_deposit"]) == (6, "22394.50", "3732.42")


def test_one_currency_only() -> None:
    rows = csv_rows(render_rows(summarize(ROWS), "csv", "CAD"))
    assert [(r["brand_id"], r["currency"], r["clicks"], r["deposits"]) for r in rows] == [
        ("goldbet", "CAD", "50", "2"), ("luckyspin", "CAD", "20", "0")]


def test_a_group_with_no_money_yet_has_one_row_without_currency() -> None:
    [row] = currency_rows(summarize(ROWS[:1]))
    assert (row["currency"], row["clicks"], row["deposit_sum"]) == ("", 50, None)
    assert "No funnel data yet." in render_rows([], "table")

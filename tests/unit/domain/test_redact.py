"""Passwords in DSNs and messages are masked wherever they are printed or logged (issue 13, High 4)."""

from __future__ import annotations

import pytest

from clickpath.domain.redact import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://clickpath:s3cret@clickhouse:8123", "http://clickpath:***@clickhouse:8123"),
        ("https://u:p%40ss@h:8443/db?x=1", "https://u:***@h:8443/db?x=1"),
        ("http://h:8123/?user=u&password=s3cret&x=1", "http://h:8123/?user=u&password=***&x=1"),
        ("cannot open ClickHouse at http://a:b@h:8123: refused",
         "cannot open ClickHouse at http://a:***@h:8123: refused"),
        ("chdb:///var/lib/clickpath/clickhouse", "chdb:///var/lib/clickpath/clickhouse"),
        ("http://user@h:8123", "http://user@h:8123"),
        ("sasl_password=hunter2 other", "sasl_password=*** other"),
        ("no secrets here", "no secrets here"),
    ],
)
def test_redact_masks_passwords_only(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected


@pytest.mark.parametrize(("url", "shown"), [
    ("https://u:pw@t.example/pb?cid={click_id}&token=abc&x=1",
     "https://***@t.example/pb?cid={click_id}&token=***&x=1"),
    ("https://tok@t.example/p", "https://***@t.example/p"),
    ("https://t.example/pb?api_key={sub1}&sig=zz&Auth=Basic#frag",
     "https://t.example/pb?api_key={sub1}&sig=***&Auth=***#frag"),
    ("https://t.example/pb?goal=3&cid={click_id}", "https://t.example/pb?goal=3&cid={click_id}"),
])
def test_mask_url_masks_user_info_and_credential_parameters(url, shown) -> None:
    from clickpath.domain.redact import mask_url

    assert mask_url(url) == shown

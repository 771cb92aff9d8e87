"""No raw e-mail, phone or IP past the door (issue 26; shared/DESIGN.md §10), on a real
`clickpath up`: distinctive raw values go in through every door (the event API, the click
tracker, the web SDK's collector, `clickpath import`, postback-in), and once each event is in
ClickHouse every topic the broker lists, every table and view of ClickHouse and every file of
the data directory (the broker journal, the JSON stores, the logs) is read whole and searched
for each value in every rendering it could take. None may be found; the pseudonyms the
settings' key gives for them must be (so the scan is shown to see the data it calls clean).
"""

from __future__ import annotations

import csv
import json
import secrets
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from clickpath.domain.pseudonym import keyed_hash, normalise_email, normalise_phone, pseudonymise_ip
from clickpath.infra.clickhouse import connect
from clickpath.settings import Settings
from tests.integration.harness import processes_with, unsealed, wait_until
from tests.integration.personal_scan import (
    Findings,
    email_renderings,
    ip_renderings,
    phone_renderings,
    scan_broker,
    scan_clickhouse,
    scan_files,
)
from tests.integration.test_up_data_dir import (
    clickpath,
    every_role_running,
    healthy,
    start_up,
    status,
    stop_up,
    up_env,  # noqa: F401  (the fixture)
)
from tests.integration.test_up_identity import sql

BRAND = "brand-d"
LANDING = "https://casino.example/welcome?cid={click_id}&s1={sub1}"
AFFILIATES = {"aff-d": {"name": "Doors", "campaigns": {
    "doors": {"brand_id": BRAND, "landing_url": LANDING, "tracking_code": "door1"}}}}
# A run's token in every test address: any rendering of an address holds it.
RUN = "zq" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))


def email(door: str) -> str:
    """Mixed case and spaces around it, so only the normalised form hashes to the pseudonym."""
    return f"  Ann.{door.title()}.{RUN}@Example.COM "


# Ofcom's drama numbers (London 020 7946 0000-0999) and the documentation address ranges.
PHONES = {door: f"+44 20 7946 09{n}" for n, door in enumerate(
    ("api", "import", "postback", "refused"), start=51)}
IPS = {
    "api-registration": "2001:db8:d0:51::51",
    "api-login": "::ffff:203.0.113.52",  # an IPv4 client as a dual-stack socket shows it
    "api-click": "203.0.113.53",
    "tracker": "203.0.113.54",
    "tracker-v6": "2001:db8:d0:55::55",
    "collect": "203.0.113.56",
    "import-registration": "203.0.113.57",
    "import-click": "2001:db8:d0:58::58",
    "postback": "203.0.113.59",
    "refused": "203.0.113.60",
}
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def raw_values() -> dict[str, str]:
    """Every needle -> what it is a rendering of."""
    needles: dict[str, set[str]] = {}

    def add(renderings: set[str], what: str) -> None:
        for needle in renderings:
            needles.setdefault(needle, set()).add(what)

    for door in ("api", "import", "postback", "tracker", "collect", "refused"):
        add(email_renderings(email(door)), f"{door}'s e-mail")
    for door, phone in PHONES.items():
        add(phone_renderings(phone, "44"), f"{door}'s phone")
    for door, ip in IPS.items():
        add(ip_renderings(ip), f"{door}'s IP")
    return {needle: " or ".join(sorted(what)) for needle, what in needles.items()}


def pseudonyms(key: bytes) -> dict[str, str]:
    """The pseudonym each accepted raw value must have become -> what it stands for."""
    made = {keyed_hash(key, "email", normalise_email(email(d))): f"{d}'s e-mail hash"
            for d in ("api", "import", "postback")}
    made |= {keyed_hash(key, "phone", normalise_phone(PHONES[d])): f"{d}'s phone hash"
             for d in ("api", "import", "postback")}
    made |= {pseudonymise_ip(key, ip)[0]: f"{d}'s IP hash" for d, ip in IPS.items()
             if d != "refused"}
    return made


def user_agent(door: str) -> str:
    """A crawler's user agent that names its operator's contact and the host it runs on."""
    return (f"Mozilla/5.0 (compatible; DoorBot/2.1; +mailto:{email(door).strip()};"
            f" host {IPS[door]}) Chrome/120.0.0.0")


def event_api_batch() -> list[dict[str, Any]]:
    return [
        {"event_type": "click", "event_id": "d-api-click", "occurred_at": at(0),
         "click_id": "c-d-api", "affiliate_id": "aff-d", "campaign_id": "doors",
         "ip": IPS["api-click"]},
        {"event_type": "registration", "event_id": "d-api-reg", "occurred_at": at(1),
         "player_id": "p-d-api", "click_id": "c-d-api", "email": email("api"),
         "phone": PHONES["api"], "ip": IPS["api-registration"]},
        {"event_type": "login", "event_id": "d-api-login", "occurred_at": at(2),
         "player_id": "p-d-api", "ip": IPS["api-login"]},
        {"event_type": "deposit", "event_id": "d-api-dep", "occurred_at": at(3),
         "player_id": "p-d-api", "transaction_id": "tx-d-api", "amount": "20.00",
         "currency": "EUR"},
    ]


def refused_events() -> list[dict[str, Any]]:
    """Raw values where none may be: each event is refused, naming the field."""
    return [
        {"event_type": "deposit", "event_id": "d-ref-dep", "occurred_at": at(4),
         "player_id": "p-d-api", "transaction_id": "tx-d-ref", "amount": "5.00",
         "currency": "EUR", "ip": IPS["refused"]},
        {"event_type": "registration", "event_id": "d-ref-reg", "occurred_at": at(4),
         "player_id": "p-d-ref", "attributes": {"contact": email("refused"),
                                                "mobile": PHONES["refused"]}},
        {"event_type": "login", "event_id": "d-ref-login", "occurred_at": at(4),
         "player_id": "p-d-api", "user_agent": user_agent("refused")},
    ]


def write_import_file(path: Path) -> Path:
    """A CRM export with e-mail, phone and IP columns."""
    columns = ["event_type", "event_id", "occurred_at", "player_id", "click_id", "affiliate_id",
               "campaign_id", "email", "phone", "ip", "transaction_id", "amount", "currency"]
    rows = [
        {"event_type": "click", "event_id": "d-imp-click", "occurred_at": at(10),
         "click_id": "c-d-imp", "affiliate_id": "aff-d", "campaign_id": "doors",
         "ip": IPS["import-click"]},
        {"event_type": "registration", "event_id": "d-imp-reg", "occurred_at": at(11),
         "player_id": "p-d-imp", "click_id": "c-d-imp", "email": email("import"),
         "phone": PHONES["import"], "ip": IPS["import-registration"]},
        {"event_type": "deposit", "event_id": "d-imp-dep", "occurred_at": at(12),
         "player_id": "p-d-imp", "transaction_id": "tx-d-imp", "amount": "30.00",
         "currency": "EUR"},
    ]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def send_through_every_door(base: str, secret: str, env: dict[str, str], export: Path) -> set[str]:
    """The raw values through each door; the event ids ClickHouse must come to hold."""
    auth = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        # The event API.
        r = http.post("/v1/events", json={"events": event_api_batch()}, headers=auth)
        assert r.status_code == 200 and r.json()["accepted"] == 4, r.text
        for event in refused_events():
            r = http.post("/v1/events", json={"events": [event]}, headers=auth)
            assert r.status_code == 422, r.text

        # The click tracker, behind a proxy that says who the visitor is.
        # A crawler's user agent names its contact; a referrer names the visitor.
        r = http.get("/c/door1?sub1=banner", headers={
            "X-Forwarded-For": IPS["tracker"], "User-Agent": user_agent("tracker"),
            "Referer": f"https://aff.example/u/{email('tracker').strip()}"})
        assert r.status_code == 302, r.text
        click_id = parse_qs(urlsplit(r.headers["location"]).query)["cid"][0]
        r = http.get("/c/door1", headers={"X-Forwarded-For": IPS["tracker-v6"]})
        assert r.status_code == 302, r.text
        click_v6 = parse_qs(urlsplit(r.headers["location"]).query)["cid"][0]

        # The web SDK's collector, on the landing page the click led to.
        page = {"click_id": click_id, "viewport": "large", "language": "en-GB",
                "platform": f"Linux {email('collect').strip()}",
                "page_url": f"https://casino.example/welcome?cid={click_id}"
                            f"&email={email('collect').strip()}",
                "referrer": f"https://aff.example/review?mail={email('collect').strip()}"}
        r = http.post("/v1/collect", content=json.dumps(page), headers={
            "Origin": "https://casino.example", "Content-Type": "text/plain",
            "X-Forwarded-For": IPS["collect"], "User-Agent": user_agent("collect")})
        assert r.status_code == 202, r.text

        # Postback-in: a registration with the player's identifiers, then its first deposit.
        r = http.get("/v1/postback", headers=auth, params={
            "event": "registration", "player_id": "p-d-pb", "click_id": click_v6,
            "email": email("postback"), "phone": PHONES["postback"], "ip": IPS["postback"]})
        assert r.status_code == 200, r.text
        r = http.get("/v1/postback", headers=auth, params={
            "event": "ftd", "player_id": "p-d-pb", "transaction_id": "tx-d-pb", "amount": "40.00",
            "currency": "EUR"})
        assert r.status_code == 200, r.text

    # `clickpath import` of a CRM export.
    result = clickpath("import", str(export), "--brand", BRAND, "--json", env=env)
    assert result.returncode == 0, result
    return {"d-api-click", "d-api-reg", "d-api-login", "d-api-dep", f"click-{click_id}",
            f"click-{click_v6}", "pb-registration-p-d-pb", "pb-deposit-tx-d-pb",
            "d-imp-click", "d-imp-reg", "d-imp-dep"}


def downstream(env: dict[str, str]) -> tuple[int, ...] | None:
    """The brand's funnel once every door's clicks, registrations and deposits are in it, and
    its players in `players` (an analyst's views: `events` itself is read once `up` stopped)."""
    rows = sql(env, "SELECT sum(clicks) AS c, sum(registrations) AS r, sum(deposits) AS d"
                    f" FROM funnel_daily WHERE brand_id = '{BRAND}'") or [{}]
    players = {r["player_id"] for r in sql(
        env, f"SELECT player_id FROM players WHERE brand_id = '{BRAND}'") or []}
    funnel = tuple(int(rows[0].get(k) or 0) for k in ("c", "r", "d"))
    return funnel if funnel == (4, 3, 3) and players == {"p-d-api", "p-d-imp", "p-d-pb"} else None


def test_no_raw_email_phone_or_ip_past_any_door(up_env, tmp_path) -> None:  # noqa: F811
    env = {**up_env, "CLICKPATH_AFFILIATES": json.dumps(AFFILIATES),
           "CLICKPATH_TRACKER_CLIENT_IP_HEADER": "X-Forwarded-For"}
    data_dir = Path(env["CLICKPATH_DATA_DIR"])
    key = env["CLICKPATH_PSEUDONYM_KEY"].encode()
    base = f"http://127.0.0.1:{env['CLICKPATH_HTTP_PORT']}"
    raw, made = raw_values(), pseudonyms(key)
    secret = clickpath("keys", "create", "--role", "operator", "--brand", BRAND,
                       env=env).stdout.strip()
    (tmp_path / "export").mkdir()
    export = write_import_file(tmp_path / "export" / "crm-export.csv")
    # The control: the scan finds the raw values where they are, in the export as written.
    control = scan_files(tmp_path / "export", raw, made).raw
    assert {"import's e-mail", "import's phone", "import-registration's IP",
            "import-click's IP"} <= {what.split(" as ")[0] for what in control}, control
    up = start_up(env)
    try:
        wait_until(lambda: every_role_running(env), 120, "`up` to run every role")
        wait_until(lambda: healthy(base), 60, "the service to answer")
        event_ids = send_through_every_door(base, secret, env, export)
        wait_until(lambda: downstream(env), 180,
                   "every door's clicks, registrations and deposits in the funnel, its players")
        broker, topics = scan_broker(status(env)["broker"], raw, made)
    finally:
        output = stop_up(up)
    assert up.returncode == 0, output
    assert processes_with(env["CLICKPATH_DATA_DIR"]) == []

    client = connect(Settings(data_dir=data_dir))
    try:
        payloads = dict(client.query("SELECT event_id, payload FROM clickpath.events FINAL"
                                     " WHERE brand_id = {b:String}", parameters={"b": BRAND}
                                     ).result_rows)
        clickhouse, tables = scan_clickhouse(client, raw, made)
    finally:
        client.close()
    files = scan_files(data_dir, raw, made)

    # Every door's events are in ClickHouse, the API's registration with the pseudonyms of its
    # normalised e-mail and phone and of its IP, and the IP's /32 network.
    assert event_ids <= set(payloads), event_ids - set(payloads)
    # sealed under the player's key at the door (docs/privacy.md#erasure): opened here
    settings = Settings(data_dir=data_dir, master_key=env["CLICKPATH_MASTER_KEY"])
    registration = {k: unsealed(settings, k, v) for k, v in json.loads(payloads["d-api-reg"]).items()}
    assert registration["email_hash"] == keyed_hash(key, "email", f"ann.api.{RUN}@example.com")
    assert registration["phone_hash"] == keyed_hash(key, "phone", "+442079460951")
    assert (registration["ip_hash"], registration["ip_prefix"]) == pseudonymise_ip(
        key, IPS["api-registration"]) and registration["ip_prefix"] == "2001:db8::/32"

    for where, found in (("topics", broker), ("ClickHouse", clickhouse), ("data dir", files)):
        assert not found.raw, f"raw personal data in the {where}: {found.raw}"
    # The scans saw the data: every pseudonym on the topics and in the broker journal, and in
    # ClickHouse the clicks' (page views feed the identity graph only). A registration's and a
    # login's are sealed under the player's key at the door (docs/privacy.md#erasure): the graph
    # sights the e-mail and phone hashes (identity.sightings), nothing holds the IP hash in plain,
    # and ClickHouse keeps them only sealed; the API registration's opened above.
    assert {"clickpath.events", "clickpath.players", "clickpath.persons"} <= set(tables), tables
    ip_sealed = [f"{d}'s IP hash" for d in ("api-login", "api-registration",
                                            "import-registration", "postback")]
    assert missing(made, broker) == ip_sealed == missing(made, files, under="broker/")
    assert missing(made, clickhouse) == sorted(
        [*ip_sealed, "collect's IP hash"] + [f"{d}'s {what} hash" for d in ("api", "import", "postback")
                                             for what in ("e-mail", "phone")])
    print(f"scanned {broker.places} records of {len(topics)} topics, {len(tables)} tables and"
          f" views, {files.places} files")


def missing(made: dict[str, str], findings: Findings, under: str = "") -> list[str]:
    """What each pseudonym a scan did not see (anywhere, or in places under `under`) stands for."""
    return sorted(what for pseudonym, what in made.items()
                  if not any(p.startswith(under) for p in findings.pseudonyms.get(pseudonym, ())))

"""`clickpath affiliates` and `clickpath campaigns` against a running service: the `api` role
(the process `up` runs) on a free loopback port and the real broker, the commands in their own
processes with nothing but the data directory's settings. An affiliate with a parent and
invoice details, a campaign, the lists, and the very next click on the new link recorded;
refusals readable with exit 2; and with the service gone, the question whether `up` runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import httpx

from clickpath.contracts.models import Click
from clickpath.contracts.topics import Topic
from clickpath.infra.broker import free_port
from tests.integration.harness import processes_with, read_topic, wait_until

LANDING = "https://casino.example/welcome?cid={click_id}&s1={sub1}"


def test_affiliates_and_campaigns_are_managed_on_the_running_service(settings, codec, start_role,
                                                                      tmp_path) -> None:
    service = settings.with_overrides(http_port=free_port(), instances_dir=tmp_path / "instances")
    service.data_dir.mkdir(parents=True, exist_ok=True)
    api = start_role("api", role_settings=service)

    def healthy() -> bool:
        try:
            return httpx.get(f"{service.service_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, 60, "the api role's /healthz")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKPATH_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(service.to_env())

    def clickpath(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "clickpath.run.cli", *args], env=env,
                              capture_output=True, text=True, timeout=60)

    def ok(*args: str) -> str:
        done = clickpath(*args)
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    added = json.loads(ok(
        "affiliates", "add", "aff-sub", "--name", "Sub Media", "--parent-id", "aff-1",
        "--payout-currency", "EUR", "--min-payout", "100.00", "--legal-name", "Sub Media Ltd",
        "--address", "1 Main Street, Valletta", "--country", "MT", "--vat-id", "MT12345678",
        "--reverse-charge", "--format", "json",
    ))
    assert {k: v for k, v in added.items() if k not in ("postback_url", "postback_events")} == {
        "affiliate_id": "aff-sub", "name": "Sub Media", "parent_id": "aff-1", "payout_currency": "EUR",
        "min_payout": "100.00", "legal_name": "Sub Media Ltd", "address": "1 Main Street, Valletta",
        "country": "MT", "vat_id": "MT12345678", "vat_reverse_charge": True, "campaigns": [],
    }
    campaign = json.loads(ok("campaigns", "add", "aff-sub", "summer", "--brand", "brand-a",
                             "--landing-url", LANDING, "--tracking-code", "sub-summer", "--format", "json"))
    link = f"{service.service_url}/c/sub-summer"
    assert (campaign["url"], campaign["query_url"]) == (
        link, f"{service.service_url}/c?aff=aff-sub&campaign=summer")

    # The very next click on the new link is tracked: redirected, and its Click on the topic.
    r = httpx.get(link, params={"sub1": "banner-7"}, timeout=30)
    assert r.status_code == 302, r.text
    click_id = parse_qs(urlsplit(r.headers["location"]).query)["cid"][0]
    assert r.headers["location"] == f"https://casino.example/welcome?cid={click_id}&s1=banner-7"
    [(_, click)] = read_topic(settings, codec, Topic.CLICKS, 1)
    assert isinstance(click, Click) and click.click_id == click_id
    assert (click.affiliate_id, click.campaign_id, click.brand_id, click.tracking_code, click.sub1) == (
        "aff-sub", "summer", "brand-a", "sub-summer", "banner-7")

    listed = {a["affiliate_id"]: a for a in json.loads(ok("affiliates", "list", "--format", "json"))}
    assert set(listed) == {"aff-1", "aff-2", "aff-sub"}
    assert listed["aff-sub"]["parent_id"] == "aff-1" and len(listed["aff-sub"]["campaigns"]) == 1
    table = ok("affiliates", "list").splitlines()
    assert table[0].split() == ["AFFILIATE", "NAME", "PARENT", "CURRENCY", "MIN", "PAYOUT", "COUNTRY",
                                "CAMPAIGNS"]
    assert next(line for line in table if line.startswith("aff-sub")).split() == [
        "aff-sub", "Sub", "Media", "aff-1", "EUR", "100.00", "MT", "1"]
    shown = ok("affiliates", "show", "aff-sub")
    for line in ("  legal name:      Sub Media Ltd", "  VAT id:          MT12345678",
                 "  reverse charge:  yes", "  parent:          aff-1"):
        assert line in shown.splitlines(), shown
    assert link in shown and f"lands on {LANDING}" in shown
    campaigns = json.loads(ok("campaigns", "list", "--format", "json"))
    assert [(c["affiliate_id"], c["campaign_id"], c["tracking_code"], c["url"]) for c in campaigns] == [
        ("aff-sub", "summer", "sub-summer", link)]
    assert link in ok("campaigns", "list", "--affiliate", "aff-sub")

    # Refusals: the API's reason, naming the flag, exit 2; nothing changed.
    for args, reason in (
        (("affiliates", "add", "aff-sub", "--parent-id", "ghost"),
         "clickpath: affiliates add aff-sub: --parent-id: affiliates.aff-sub.parent_id: no affiliate"
         " 'ghost' (the service answered 422)"),
        (("affiliates", "add", "aff-1", "--parent-id", "aff-sub"), "a cycle through"),
        (("campaigns", "add", "aff-2", "copy", "--brand", "brand-b", "--landing-url", LANDING,
          "--tracking-code", "sub-summer"), "--tracking-code: must be unique: 'sub-summer' is used by"),
        (("campaigns", "add", "aff-2", "copy", "--brand", "brand-b", "--landing-url",
          "https://x.example/?c={clickid}"), "--landing-url: "),
    ):
        refused = clickpath(*args)
        assert refused.returncode == 2, (args, refused.stderr)
        assert reason in refused.stderr and '"detail"' not in refused.stderr, refused.stderr
        assert refused.stdout == ""
    after = json.loads(ok("affiliates", "show", "aff-sub", "--format", "json"))
    assert after["parent_id"] == "aff-1"
    assert json.loads(ok("affiliates", "show", "aff-1", "--format", "json"))["parent_id"] is None
    assert [c["campaign_id"] for c in json.loads(ok("campaigns", "list", "--format", "json"))] == ["summer"]

    # With the service stopped: the same question as every client command, exit 1.
    api.stop()
    gone = clickpath("affiliates", "list")
    assert gone.returncode == 1 and "is `clickpath up` running?" in gone.stderr, gone.stderr
    wait_until(lambda: processes_with(str(service.data_dir)) == [], 30, "no process of the test left")

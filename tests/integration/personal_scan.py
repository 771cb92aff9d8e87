"""Looking for raw personal data where none may be: every topic of a broker, every table and view
of a ClickHouse, every file under a directory (test_no_raw_personal_data.py).

A raw value is looked for in every rendering a leak could take (as sent, normalised, URL- or
otherwise re-encoded, an IP in each of its text forms), in lowercased text, so that case makes
no difference. A scan also says which of a list of pseudonyms it saw, so a test can prove that
it read the data it claims to have found clean.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient


def email_renderings(email: str) -> set[str]:
    """The address as sent and normalised, and its local part alone (each test address carries
    a run's token in it, so any rendering of the address holds that)."""
    normal = email.strip().lower()
    local = normal.split("@", 1)[0]
    return {email, normal, quote(normal), quote_plus(normal), local}


def phone_renderings(phone: str, country_code: str) -> set[str]:
    """As sent, digits only, +digits, the national number without the country code, each with
    the spaces URL-encoded as a query or a path encodes them."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    national = digits.removeprefix(country_code)
    spaced = phone.strip().removeprefix(f"+{country_code}").strip()
    forms = {phone.strip(), digits, f"+{digits}", national, spaced}
    return forms | {quote(f) for f in forms} | {quote_plus(f) for f in forms}


def ip_renderings(ip: str) -> set[str]:
    """Every text form of an address: compressed, exploded, IPv4 as an IPv4-mapped IPv6 address
    (dotted and in hex) and its /24 (the prefix kept is /16: a /24 beside it is a leak)."""
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        mapped = ipaddress.IPv6Address(f"::ffff:{address}")
        hex_mapped = mapped.exploded.split(":")[-2:]
        network24 = ".".join(str(address).split(".")[:3]) + "."
        return {str(address), network24, f"::ffff:{address}", f"{hex_mapped[0]}:{hex_mapped[1]}",
                f"{int(hex_mapped[0], 16):x}:{int(hex_mapped[1], 16):x}"}
    v6 = ipaddress.IPv6Address(ip)
    groups = v6.exploded.split(":")
    return {v6.compressed, v6.exploded, ":".join(g.lstrip("0") or "0" for g in groups),
            quote(v6.compressed)}


@dataclass
class Findings:
    """Where each needle was seen: needle -> places (topic/partition/offset, table, file)."""

    raw: dict[str, list[str]] = field(default_factory=dict)
    pseudonyms: dict[str, list[str]] = field(default_factory=dict)
    places: int = 0  # records, rows or files looked at

    def look(self, place: str, data: bytes, raw: dict[str, str], pseudonyms: Iterable[str]) -> None:
        self.places += 1
        text = data.lower()
        for needle, what in raw.items():
            if needle.lower().encode() in text:
                self.raw.setdefault(f"{what} as {needle!r}", []).append(place)
        for pseudonym in pseudonyms:
            if pseudonym.lower().encode() in text:
                self.pseudonyms.setdefault(pseudonym, []).append(place)


def scan_broker(bootstrap: str, raw: dict[str, str], pseudonyms: Iterable[str],
                timeout_s: float = 60) -> tuple[Findings, list[str]]:
    """Every record of every topic the broker lists (every partition, from its first offset):
    key, value and headers. Returns the findings and the topics read."""
    pseudonyms = list(pseudonyms)
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30)
    partitions = [TopicPartition(name, p, 0) for name, topic in metadata.topics.items()
                  for p in topic.partitions]
    findings = Findings()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"scan-{time.time_ns()}",
                         "enable.auto.commit": False, "enable.partition.eof": True,
                         "auto.offset.reset": "earliest"})
    waiting = {(tp.topic, tp.partition) for tp in partitions}
    deadline = time.monotonic() + timeout_s
    try:
        consumer.assign(partitions)
        while waiting:
            assert time.monotonic() < deadline, f"topics not read to their end: {sorted(waiting)}"
            for msg in consumer.consume(1000, timeout=0.5):
                error = msg.error()
                if error is not None:
                    assert error.code() == KafkaError._PARTITION_EOF, error
                    waiting.discard((msg.topic(), msg.partition()))
                    continue
                headers = b"".join(name.encode() + b"=" + (value or b"")
                                   for name, value in msg.headers() or ())
                findings.look(f"{msg.topic()}[{msg.partition()}]@{msg.offset()}",
                              b"\0".join((msg.key() or b"", msg.value() or b"", headers)),
                              raw, pseudonyms)
    finally:
        consumer.close()
    return findings, sorted(metadata.topics)


def scan_clickhouse(client, raw: dict[str, str], pseudonyms: Iterable[str]
                    ) -> tuple[Findings, list[str]]:
    """Every table and view of every database but ClickHouse's own, listed from system.tables,
    read whole as tab-separated text. Returns the findings and the tables read."""
    pseudonyms = list(pseudonyms)
    tables = [f"{db}.{name}" for db, name in client.query(
        "SELECT database, name FROM system.tables WHERE database NOT IN"
        " ('system', 'INFORMATION_SCHEMA', 'information_schema') ORDER BY database, name"
    ).result_rows]
    findings = Findings()
    for table in tables:
        db, name = table.split(".", 1)
        text = client.raw_query(f"SELECT * FROM `{db}`.`{name}` FORMAT TabSeparatedWithNames")
        findings.look(table, text, raw, pseudonyms)
    return findings, tables


def files_under(root: Path) -> Iterator[Path]:
    yield from (p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink())


def scan_files(root: Path, raw: dict[str, str], pseudonyms: Iterable[str]) -> Findings:
    """Every file under `root`, as bytes (the broker journal's frames hold records as produced;
    JSON stores and logs are text)."""
    pseudonyms = list(pseudonyms)
    findings = Findings()
    for path in files_under(root):
        findings.look(str(path.relative_to(root)), path.read_bytes(), raw, pseudonyms)
    return findings

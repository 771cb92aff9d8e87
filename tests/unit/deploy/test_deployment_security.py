"""What the shipped deployment files promise (issue 13): no pseudonym key in docker-compose, the
roles that read admin changes share one data volume (Medium 11), the image does not run as root."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()


def test_compose_ships_no_pseudonym_key() -> None:
    key = COMPOSE["x-clickpath"]["environment"]["CLICKPATH_PSEUDONYM_KEY"]
    assert re.fullmatch(r"\$\{CLICKPATH_PSEUDONYM_KEY:\?[^}]+\}", key), key


def test_compose_ships_no_master_key() -> None:
    key = COMPOSE["x-clickpath"]["environment"]["CLICKPATH_MASTER_KEY"]
    assert re.fullmatch(r"\$\{CLICKPATH_MASTER_KEY:\?[^}]+\}", key), key


def data_volume(service: str) -> str | None:
    for mount in COMPOSE["services"][service].get("volumes", []):
        source, _, target = mount.partition(":")
        if target.split(":")[0] == "/data":
            return source
    return None


def test_roles_reading_admin_changes_share_one_named_data_volume() -> None:
    shared = data_volume("api")
    assert shared and shared in COMPOSE["volumes"]  # named, not anonymous
    assert data_volume("sink-postbacks") == shared
    assert data_volume("worker") != shared  # its RocksDB state stays its own


def test_the_image_runs_as_a_user_that_is_not_root() -> None:
    final_stage = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    users = re.findall(r"^USER\s+(\S+)", final_stage, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")

"""`clickpath player erase` and `clickpath player certificate` (docs/privacy.md#erasure).

`erase` produces the same `erasure_request` event as `POST /v1/players/{id}/erasure`
(clickpath.domain.erasure_request makes both) straight to the broker of the running `up` (or
CLICKPATH_KAFKA_BOOTSTRAP_SERVERS), and returns once the broker acknowledged it; asked by
`--requested-by`, else `local-cli` and the OS user. `certificate` prints the certificate as
`GET /v1/players/{id}/erasure` answers it, through the service when ClickHouse is embedded.
"""

from __future__ import annotations

import argparse
import json

from clickpath.run.errors import CommandError
from clickpath.settings import Settings

ACTIONS = ("erase", "certificate")


def cmd_erase(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath player erase --brand B --player P [--requested-by TEXT] [--reason TEXT]`."""
    from clickpath.contracts.models import utcnow
    from clickpath.domain.erasure_request import PersonalData, erasure_event_id, erasure_request
    from clickpath.infra.producer import EventProducer, NotAcknowledged
    from clickpath.run.commands_identity import requester
    from clickpath.run.recording import record, trail_for

    trail = trail_for(settings, "player erase")
    try:
        event = erasure_request(args.brand, args.player, requested_by=args.requested_by or requester(),
                                reason=args.reason, now=utcnow(), source="cli",
                                event_id=erasure_event_id(args.brand, args.player))
    except PersonalData as e:
        raise CommandError(f"--{e.field.replace('_', '-')}: {e.reason}") from None
    except ValueError as e:  # the event's own checks (ids), pydantic's words
        raise CommandError(f"refused: {e}") from None
    if settings.embedded_broker:
        raise CommandError("no broker: `clickpath up` is not running here and"
                           " CLICKPATH_KAFKA_BOOTSTRAP_SERVERS is not set", 1)
    try:
        with EventProducer(settings, batch_records=False) as producer:
            producer.send(event)
    except NotAcknowledged as e:
        raise CommandError(f"the broker did not take the erasure ({e}); run it again", 1) from None
    record(trail, "erasure.requested", f"{args.brand}:{args.player}",
           {"request_id": event.event_id})
    print(json.dumps({"request_id": event.event_id, "brand_id": args.brand,
                      "player_id": args.player, "status": "accepted",
                      "requested_by": event.requested_by}, indent=2))


def cmd_certificate(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath player certificate --brand B --player P`."""
    from urllib.parse import quote

    from clickpath.run.commands_data import _answer, _from_service

    if settings.clickhouse_embedded:
        response = _from_service(settings, "GET", f"/v1/players/{quote(args.player, safe='')}/erasure",
                                 params={"brand_id": args.brand})
        if response.status_code in (404, 422):
            raise CommandError(str(response.json().get("detail")), 1)
        answer = _answer(response)
    else:
        from clickpath.infra.reports import erasure_certificate_of

        answer = erasure_certificate_of(settings, brand_id=args.brand, player_id=args.player)
        if answer is None:
            raise CommandError(f"no erasure certificate for player {args.player!r} at brand"
                               f" {args.brand!r} (yet)", 1)
    print(json.dumps(answer, indent=2))


def cmd_player_or_action(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath player PLAYER_ID --brand B` (the journey), or `clickpath player erase|certificate
    --brand B --player P`: the first word is the action when it is one of ACTIONS."""
    from clickpath.run.commands_data import cmd_player

    action = args.player_id if args.player_id in ACTIONS else None
    if action is None:
        if args.player is not None or args.requested_by is not None or args.reason is not None:
            raise CommandError("--player, --requested-by and --reason go with `player erase` or"
                               " `player certificate`; the journey is `player PLAYER_ID --brand B`")
        cmd_player(settings, args)
        return
    if args.player is None:
        raise CommandError(f"--player P: the player whose {'erasure' if action == 'erase' else 'certificate'}"
                           " it is (`clickpath player {action} --brand B --player P`)")
    if action == "certificate" and (args.requested_by is not None or args.reason is not None):
        raise CommandError("--requested-by and --reason go with `player erase`")
    (cmd_erase if action == "erase" else cmd_certificate)(settings, args)

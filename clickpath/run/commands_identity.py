"""`clickpath identity unmerge`: undo a merge of the identity graph (docs/identity.md).

The command produces the operator's `UnmergeRequest` straight to the broker of the running
`up` (or CLICKPATH_KAFKA_BOOTSTRAP_SERVERS) as `Node.IDENTITY_ADMIN`, the same record the admin
API makes (clickpath.domain.identity.unmerge), and returns once the broker acknowledged it;
the identity stage of the worker applies it. Recorded as asked by `local-cli` and the OS user,
and in the audit trail (`identity.unmerge`, as `cli:<os user>`).
"""

from __future__ import annotations

import argparse
import json
import uuid

from clickpath.run.commands_close import CLI_ACTOR, _user
from clickpath.run.errors import CommandError
from clickpath.run.recording import record, trail_for
from clickpath.settings import Settings


def requester() -> str:
    """Who asks, as the commission commands record it: this CLI, and the OS user if known."""
    user = _user()
    return f"{CLI_ACTOR} ({user})" if user else CLI_ACTOR


def cmd_unmerge(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath identity unmerge --brand B PLAYER_ID --reason TEXT`."""
    from clickpath.contracts.models import utcnow
    from clickpath.domain.identity.unmerge import UnmergeRefused, unmerge_request
    from clickpath.infra.producer import EventProducer, NotAcknowledged

    try:
        out = unmerge_request(args.brand, args.player_id, args.reason, requested_by=requester(),
                              request_id=str(uuid.uuid4()), now=utcnow())
    except UnmergeRefused as e:
        raise CommandError(str(e)) from None
    if settings.embedded_broker:
        raise CommandError("no broker: `clickpath up` is not running here and"
                           " CLICKPATH_KAFKA_BOOTSTRAP_SERVERS is not set", 1)
    trail = trail_for(settings, "identity unmerge")
    try:
        with EventProducer(settings, batch_records=False) as producer:
            producer.send_record(out.topic, out.key, out.record)
    except NotAcknowledged as e:
        raise CommandError(f"the broker did not take the unmerge ({e}); run it again", 1) from None
    record(trail, "identity.unmerge", f"{args.brand}:{args.player_id}",
           {"request_id": getattr(out.record, "request_id", None), "reason": args.reason})
    print(json.dumps(out.record.model_dump(mode="json"), indent=2))

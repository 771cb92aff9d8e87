"""How a command records in the audit trail what it changed or read (docs/privacy.md#audit-trail).

A command checks the audit key before it changes anything (`trail_for`: refused outside the
demo when it is the shipped one, like the roles), then records as `cli:<os user>` from
`cli@<host>` once the change is made (`record`). An entry that cannot be written fails the
command (exit 1) saying so: the change was made, its record was not, and `clickpath audit
verify` tells what is wrong with the chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from clickpath.run.errors import CommandError
from clickpath.run.guards import require_own_audit_key
from clickpath.settings import Settings

if TYPE_CHECKING:
    from clickpath.connectors.keys import ApiKey
    from clickpath.infra.audit import AuditTrail


def trail_for(settings: Settings, command: str) -> AuditTrail:
    """The audit trail this command records in; CommandError when its key may not be used."""
    from clickpath.infra.audit import AuditTrail

    require_own_audit_key(settings, command)
    return AuditTrail.from_settings(settings)


def record(trail: AuditTrail, kind: str, subject: str, detail: Mapping[str, Any] | None = None) -> None:
    """Record what this command did, as this OS user on this host; CommandError if it cannot."""
    from clickpath.infra.audit import AuditWriteError, cli_actor, cli_origin

    try:
        trail.record(actor=cli_actor(), kind=kind, subject=subject, detail=detail or {},
                     origin=cli_origin())
    except AuditWriteError as e:
        raise CommandError(f"done, but its audit entry ({kind} {subject}) could not be written:"
                           f" {e.__cause__ or e}. Run `clickpath audit verify`.", 1) from None


def record_role_config(settings: Settings, role: str) -> None:
    """`config.changed` for a role starting with other settings than it last recorded; a role
    whose change cannot be recorded does not start."""
    from clickpath.infra.audit import AuditTrail, AuditWriteError, cli_actor, cli_origin

    try:
        AuditTrail.from_settings(settings).record_config(settings, role=role, actor=cli_actor(),
                                                         origin=cli_origin())
    except AuditWriteError as e:
        raise CommandError(f"`clickpath {role}` will not start: its configuration could not be"
                           f" recorded in the audit trail ({e.__cause__ or e}). Run `clickpath"
                           " audit verify`.", 1) from None


def key_detail(key: ApiKey) -> dict[str, Any]:
    """What the audit trail keeps of a key: its scope, never its secret or digest."""
    return {"role": key.role, "brand_id": key.brand_id, "affiliate_id": key.affiliate_id,
            "label": key.label}


def cli_key_secret(settings: Settings) -> str:
    """This host's CLI admin key for asking the running service; minting it the first time is
    recorded (`key.created`), so that needs the audit key."""
    from clickpath.connectors.keys import KeyStore

    store = KeyStore(settings.key_store_path)
    kept = store.kept_local_secret()
    if kept is not None:
        return kept
    trail = trail_for(settings, "(minting this host's CLI key)")
    return store.local_secret(
        on_mint=lambda key: record(trail, "key.created", f"key:{key.key_id}", key_detail(key)))

"""What the pipeline's long-running commands check before they start.

`up`, `api`, `worker` and `sink` make or use pseudonyms (e-mail, phone and IP hashes, affiliates'
player tokens). With no key, or the development key shipped in the source, anyone can recompute
them from a list of candidates: they refuse to start, unless they run the demo (`up --demo`,
whose roles get `CLICKPATH_DEMO=true`). A key of one's own must be at least 32 bytes, demo or
not (a short key is a typed one, and guessable). The same holds for every key of a rotation:
the previous keys and the token key (docs/privacy.md#pseudonym-key-rotation). Other commands
are not affected.

The master key (CLICKPATH_MASTER_KEY), which wraps the per-person data keys that seal personal
fields, follows the same rules for the same roles (docs/privacy.md#per-person-keys), and so
does the audit key (CLICKPATH_AUDIT_KEY), which signs the audit trail's head
(docs/privacy.md#audit-trail). `require_own_keys` makes all three checks.
"""

from __future__ import annotations

from clickpath.run.errors import CommandError
from clickpath.settings import (
    MIN_AUDIT_KEY_BYTES,
    MIN_MASTER_KEY_BYTES,
    MIN_PSEUDONYM_KEY_BYTES,
    Settings,
)
from clickpath.settings.privacy import key_is_shipped, key_is_too_short


def require_own_pseudonym_key(settings: Settings, command: str, demo: bool = False) -> None:
    """Raise CommandError naming the variable when a pseudonym key (the current one, a previous
    one or the token key, docs/privacy.md#pseudonym-key-rotation) is missing, shipped (outside
    the demo) or, being one's own, shorter than MIN_PSEUDONYM_KEY_BYTES."""
    for name, key in settings.pseudonym_keys_named():
        if not key_is_shipped(key):
            if key_is_too_short(key):
                raise CommandError(
                    f"`clickpath {command}` will not start with a short pseudonym key: "
                    f"{name} has under {MIN_PSEUDONYM_KEY_BYTES} bytes, so its "
                    "e-mail, phone and IP pseudonyms and player tokens could be recomputed by "
                    f"guessing the key. Set {name} to a long random secret "
                    "(e.g. `openssl rand -hex 32`, 64 characters) and keep it the same on every role."
                )
            continue
        if demo or settings.demo:
            continue
        raise CommandError(
            f"`clickpath {command}` will not start without a pseudonym key of your own: "
            f"{name} is unset or a key shipped with clickpath, so e-mail, phone and "
            "IP pseudonyms and player tokens would be reversible by anyone. Set "
            f"{name} to a long random secret (e.g. `openssl rand -hex 32`) and keep "
            "it the same on every role; or try clickpath with `clickpath up --demo`."
        )


def _require_own(command: str, *, shipped: bool, too_short: bool, demo: bool, short: str,
                 missing: str) -> None:
    """The rule every key follows: one's own and long enough, or shipped in the demo only."""
    if not shipped:
        if too_short:
            raise CommandError(f"`clickpath {command}` will not start with a short {short}")
        return
    if not demo:
        raise CommandError(f"`clickpath {command}` will not start without {missing}")


def require_own_master_key(settings: Settings, command: str, demo: bool = False) -> None:
    """Raise CommandError naming CLICKPATH_MASTER_KEY when the key is missing, shipped (outside
    the demo) or, being one's own, shorter than MIN_MASTER_KEY_BYTES."""
    _require_own(
        command, shipped=settings.master_key_is_shipped, too_short=settings.master_key_too_short,
        demo=demo or settings.demo,
        short=f"master key: CLICKPATH_MASTER_KEY has under {MIN_MASTER_KEY_BYTES} bytes, and it "
        "wraps every person's data key. Set CLICKPATH_MASTER_KEY to a long random secret "
        "(e.g. `openssl rand -hex 32`, 64 characters) and keep it the same on every role.",
        missing="a master key of your own: CLICKPATH_MASTER_KEY is unset or a key shipped with "
        "clickpath, so anyone could open the personal fields sealed under the per-person keys. "
        "Set CLICKPATH_MASTER_KEY to a long random secret (e.g. `openssl rand -hex 32`), keep it "
        "the same on every role and never lose it (without it no sealed field opens); or try "
        "clickpath with `clickpath up --demo`.",
    )


def require_own_audit_key(settings: Settings, command: str, demo: bool = False) -> None:
    """Raise CommandError naming CLICKPATH_AUDIT_KEY when the key is missing, shipped (outside
    the demo) or, being one's own, shorter than MIN_AUDIT_KEY_BYTES."""
    _require_own(
        command, shipped=settings.audit_key_is_shipped, too_short=settings.audit_key_too_short,
        demo=demo or settings.demo,
        short=f"audit key: CLICKPATH_AUDIT_KEY has under {MIN_AUDIT_KEY_BYTES} bytes, so the "
        "audit trail's signed head could be forged by guessing it. Set CLICKPATH_AUDIT_KEY to a "
        "long random secret (e.g. `openssl rand -hex 32`) and keep it the same on every role "
        "and CLI of the host.",
        missing="an audit key of your own: CLICKPATH_AUDIT_KEY is unset or the key shipped with "
        "clickpath, so anyone could sign a rewritten audit trail. Set CLICKPATH_AUDIT_KEY to a "
        "long random secret (e.g. `openssl rand -hex 32`), the same on every role and CLI of "
        "the host and kept outside the data directory; or try clickpath with `clickpath up "
        "--demo`.",
    )


def require_own_keys(settings: Settings, command: str, demo: bool = False) -> None:
    """Every key a pipeline role needs: the pseudonym keys, the master key, then the audit key."""
    require_own_pseudonym_key(settings, command, demo=demo)
    require_own_master_key(settings, command, demo=demo)
    require_own_audit_key(settings, command, demo=demo)


def arm_fault_hook(command: str) -> None:
    """Arm the test-only crash hook from CLICKPATH_FAULT_AT, or refuse to start (outside tests,
    or for an unknown point) with the reason."""
    from clickpath.infra.faults import FaultRefused, install_from_env

    try:
        install_from_env()
    except FaultRefused as e:
        raise CommandError(f"`clickpath {command}` will not start: {e}") from None

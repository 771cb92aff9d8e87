"""The audit trail's decisions (docs/privacy.md#audit-trail): what an entry is, how entries chain
by SHA-256 and how the head is signed (`chain`), what `verify` finds wrong (`verify`), which
entries a listing shows (`filters`) and the settings' fingerprint behind `config.changed`
(`config`). Plain functions of their arguments: no files, no clock of their own."""

"""The identity graph's decisions (docs/identity.md): the identifier stage (`values`, fed by
`sightings` and `refused`) and the account stage (`accounts`, with `pairs`, `labels` and
`touches` on `account_state`). Plain functions of state and record: no broker, no clock."""

"""An example stateful stage, for the topology harness tests only (not shipped as a feature).

It shows what a new stage is: one package of pure decisions (`domain/`, in clickpath it would be
`clickpath/domain/<stage>/`), one declaration (`stage.py`, in clickpath `streams/<stage>.py`)
and one registry entry (`registry.py`, in clickpath entries of `contracts/topics.py`). Its one
new record, the reminder, also needs a schema (`schemas/`) and a model, as every record does.
"""

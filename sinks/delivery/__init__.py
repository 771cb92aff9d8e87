"""The delivery engine: postbacks and webhooks to partners' endpoints, at least once.

The role `sink-postbacks` (`clickpath sink postbacks`, started by `clickpath up`) runs the
delivery engine; that name stays for operators' scripts, the metrics keep their names.

It reads postbacks, canonical events (for webhooks) and its own retry topic, and sends each
delivery to its endpoint in that endpoint's lane, so a dead or slow partner holds only its own
lane. Retries soon stay in the lane; later ones are parked on the retry topic; what cannot be
delivered is dead-lettered with its whole job, for `clickpath deliveries replay` (which sends
it with the same id, so a receiver drops repeats).

One job per module:
    engine    the process loop: consume, hand records to intake, commit; `DeliveryEngine`
    intake    records -> jobs (stable ids); revocations
    lanes     one endpoint's lane: due-time queue, rate limit, circuit breaker, connection pool
    attempts  one attempt -> outcome (delivered, retry inline, park, dead letter, disable)
    outcomes  recording them: attempts topic, retry topic, dead letters, metrics, settling
    commits   commit points over the offset tracker (offsets)
    render    the request a delivery sends; signing
    circuit   per-endpoint circuit breaker
    egress    SSRF guard and connection pinning
    replay    `clickpath deliveries replay`

What it must never do:
- send a request to an address the egress guard has not checked, or follow a redirect unchecked;
- commit an offset past a record whose deliveries have not all ended;
- send, or park, a postback after a revocation of its player was read;
- read the time except through the clock it was given.
"""

from clickpath.sinks.delivery.engine import DeliveryEngine, run_delivery_engine

__all__ = ["DeliveryEngine", "run_delivery_engine"]

"""Events out: every event the hub records, delivered to the sinks an admin configured.

- :mod:`.outbox` writes one delivery row per matching sink in the transaction that writes
  the event (so a crash loses none and a run never waits for a receiver);
- :mod:`.envelope` names an event's CloudEvents type and builds the bodies (CloudEvents 1.0
  structured JSON, or Slack-compatible text);
- :mod:`.signing` signs a body (HMAC-SHA256 over the timestamp and the body);
- :mod:`.drain` delivers each sink's queue in order, with back-off, into a dead-letter state
  when the retry budget is spent;
- :mod:`.kube_events` writes core/v1 Events on the cluster of a ``litmus`` / ``chaos-mesh``
  run's backend.
"""

"""Silent-failure detection: deterministic rules over the normalized span stream.

Rules are pure functions of a session's spans (so they run the same on live ingest, on imported
logs and on generated scenarios); storage, alerting and the circuit breaker sit around them.
"""

"""The shared kernel every capability may use: column helpers, enums, domain errors, human codes,
advisory locks, the message bus, idempotency keys, rate limits, and the one way to run hot SQL."""

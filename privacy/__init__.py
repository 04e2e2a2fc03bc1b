"""Privacy rules as pure functions and policies: consent, trimming of ride ends, privacy zones.

Import the modules directly (`privacy.consent`, `privacy.trimming`, `privacy.zones`):
`geo` and `privacy` use each other, so this package eagerly imports nothing.
"""

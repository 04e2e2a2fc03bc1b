"""Differentially private releases: every figure that leaves the system goes through here.

``privacy.release.rules`` is the pure core (contribution bounds, the noisy
release with its threshold, the privacy loss a ledger records, coarser
resolutions as post-processing); it touches no database and no web framework.
The database layer bounds contributions in SQL with the rule written down in
``rules.bound_contributions`` and hands the per-cell totals to ``rules``.
"""

"""Points, badges, anti-cheat, challenges and leaderboards: one package each (rules, store, service),
its tables (``tables.py``) and the city calendar (``streaks.py``). Rides and hazards reach it only
through the bus (``domain.bootstrap``)."""

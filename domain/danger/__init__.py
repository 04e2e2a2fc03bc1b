"""The danger model: the 0-100 score per cell (rules) and its inputs read from the database (store)."""

"""Privacy zones: circles where no trace is kept (rules), and the user's zones in the database (service)."""

"""Safe routes: the H3 cell graph (`graph`) and the search on it (`search`). Pure: no database."""

"""Impact report internals, one module per concern (sql: the SQL shared by DuckDB and Athena)."""

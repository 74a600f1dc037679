"""Grant administration in SQL: `GRANT`, `REVOKE`, `SHOW GRANTS`, `ALTER … OWNER TO`, tokenized and parsed by
a small recursive-descent grammar and executed through the grant services (see `executor.statement_execute`)."""

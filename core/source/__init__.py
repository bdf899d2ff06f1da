"""The PostgreSQL source: its schema and how it is applied."""

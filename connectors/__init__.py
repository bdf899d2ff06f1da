"""The Debezium PostgresConnector: its configuration template and the Connect REST client."""

"""The Faust marts worker: incrementally maintained analytic tables in MySQL."""

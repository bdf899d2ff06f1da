"""`cdc top`: the whole pipeline at a glance, from its three Prometheus endpoints (core/metrics.py).

scrape.py reads an endpoint, health.py turns two scrapes into rows and a verdict (pure), render.py draws
them with rich, app.py runs the live view or one snapshot.
"""

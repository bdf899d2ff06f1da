"""The application layer: the `cdc` command and the local stack (`cdc local`).

The only package that imports every stage; nothing imports it but its own entry point.
"""

"""Stored results: the schema of every table (`schema`), the one atomic writer (`storage`), a
run folder's cases and tables (`store`) and several runs loaded together (`runs`).

Nothing is re-exported here: a case's own process writes through `storage` and must not
import pandas and pyarrow, which `store` needs.
"""

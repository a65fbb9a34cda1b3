"""Stored results: the schema of every table (`schema`), the one atomic writer (`storage`), a
case's processes and the row they derive, once, on the driver (`case_result`), a run folder's
cases and tables (`store`), several runs loaded together (`runs`), and pytest-benchmark's JSON
imported as a run (`pytest_benchmark`).

May import: `protocol`, `measure` (statistics), `backends` (their names), `names`, `errors`.
`storage` imports nothing of the harness, so any floor may write through it.

Nothing is re-exported here: a case's own process writes through `storage` and must not
import pandas and pyarrow, which `store` needs.
"""

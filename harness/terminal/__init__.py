"""Terminal output: the tables `archbench run`, `show`, `ops` and `trace` print.

Owns: the summary of a results table (`summary`) and the op table of a profile (`ops_view`).
May import: `measure` (the contention warning), `profiling.op_table` (a profile's flags),
`errors`; it reads frames the results wing loaded and measures nothing.
Not inside `report/`, whose package imports plotly: a `show` should not pay for a figure
library.
"""

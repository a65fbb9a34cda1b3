"""Reports: read stored runs, never re-measure.

`write_report` turns one or more runs into a self-contained HTML page with its tables as CSV;
the verdicts it shows come from `harness.analysis` (a comparison of two runs).

May import: `analysis`, `results`, `profiling`, `measure`, `backends` (names and colours);
never anything that runs a case.
"""

from harness.report.build import write_report

__all__ = ["write_report"]

"""Reports and run comparisons: read stored runs, never re-measure.

`write_report` turns one or more runs into a self-contained HTML page with its tables as CSV;
`compare_runs` judges two runs case by case for `archbench compare` and CI.
"""

from harness.report.build import write_report
from harness.report.compare import Comparison, compare_runs

__all__ = ["Comparison", "compare_runs", "write_report"]

"""Architecture families (one module each) and the task data they share.

`suites.registry` finds them; `suites.base.Suite` is what a user writes to add their own, with
`suites.inputs` for a model that has no task.
"""

from suites.base import AS_BUILT, TRAINED, Suite, Task, TaskData, top1_accuracy
from suites.inputs import InputSpec, parse_input

__all__ = ["AS_BUILT", "TRAINED", "InputSpec", "Suite", "Task", "TaskData", "parse_input",
           "top1_accuracy"]

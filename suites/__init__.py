"""Architecture families (one module each) and the task data they share.

`suites.registry` finds them; `suites.base.Suite` is what a user writes to add their own.
"""

from suites.base import Suite, Task, TaskData, top1_accuracy

__all__ = ["Suite", "Task", "TaskData", "top1_accuracy"]

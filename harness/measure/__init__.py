"""Measuring: the timing loop, statistics, memory, accuracy parity and model facts.

Nothing here knows about the CLI, processes or storage; each module is testable with numbers.

May import: `model_io`, `suites.inputs`, and scientific libraries; nothing else of the harness.
"""

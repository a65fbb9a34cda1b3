"""Serving under load: the dynamic batcher (`batching`), one LoadGen test against it
(`loadgen`), the search for the highest rate a latency target allows (`peak`), and what the
user sets (`options`). The scenarios that use them are `harness.scenarios.serving`.

May import: `measure`, `errors`. Never `scenarios` or `case`: this is the engine they drive.
"""

"""Verdicts from stored results, never new measurements of the models: two runs compared case
by case (`compare`, with what differs between the runs in `facts`), a comparison as markdown
(`compare_markdown`), a CI gate's baseline (`baseline`), what change a gate can detect
(`sensitivity`) and how far a whole run moved (`run_shift`).

May import: `results`, `cases`, `measure` (statistics), `machine` (fingerprints), `errors`.
Never `sweep` or `executors`: what runs processes (A/B experiments, the selftest) lives in
`harness.sweep` and calls this wing, not the other way round."""

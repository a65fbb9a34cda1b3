"""Verdicts from stored results, never new measurements of the models: two runs compared case
by case (`compare`, with what differs between the runs in `facts`), two variants alternated
on one machine (`ab`) and how good this machine is for benchmarking (`selftest`)."""

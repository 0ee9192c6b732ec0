"""Doing the rows: the plan, what stops a run, outages, the first-call checks, the worker pool, one
row's pre-read and write, the run, paced reads for export and verify."""

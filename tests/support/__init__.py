"""What the tests share, one home each (tenacity and s3transfer keep their fixtures the same way).

- `env`: the AWS environment a test or a `python -m bulk_assign` subprocess sees (the emulator's
  keys, never the machine's own set-up).
- `emulators`: starting the emulator (in this process or its own), boto3 clients and raw requests
  against it, and the "fast" (no per-second quota) configuration.
- `calls`: what the emulator's state says: its call log, owners, writes that landed.
- `inputs`: input files (CSV rows, generated realignments, workbooks as analysts leave them).
- `runs`: running the tool (in-process, `python -m bulk_assign`, `validate`).
- `outputs`: reading what a run leaves for the user (results.csv, rollback.csv).
- `journals`: reading journal.jsonl, only through the product's own `bulk_assign.store.journal`.

The pytest fixtures built on these live in tests/conftest.py.
"""

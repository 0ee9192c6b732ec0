"""What a run keeps on disk: the private run folder and its atomic writers, the folder lock, the
crash-safe journal, the invocations, status.json."""

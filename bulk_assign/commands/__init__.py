"""One module per command: what it prints, what it asks, its exit code."""

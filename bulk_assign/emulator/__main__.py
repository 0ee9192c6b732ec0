"""`python -m bulk_assign.emulator`: the emulator without the rest of the CLI."""

from bulk_assign.emulator.cli import main

raise SystemExit(main())

from bulk_assign.cli import main

raise SystemExit(main())

"""Allow `python -m companion` as well as the `companion` console script."""

from companion.cli import main

raise SystemExit(main())

"""``python -m api.cli``: the ``saferoutes`` command without its console script."""

from api.cli.main import main

raise SystemExit(main())

"""``python -m bdnex_core`` runs the CLI."""

import sys

from bdnex_core.cli import main

sys.exit(main())

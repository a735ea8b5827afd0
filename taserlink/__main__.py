"""``python -m taserlink`` runs the command line."""

import sys

from taserlink.cli import main

sys.exit(main())

"""``python -m workshop`` is the ``workshop`` command."""

import sys

from workshop.cli import main

sys.exit(main())

"""``python -m cfs_spiders.cli``: the ``cfs`` command."""

import sys

from .main import main

sys.exit(main())

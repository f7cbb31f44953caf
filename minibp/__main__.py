"""``python -m minibp``: the same as the ``minibp`` command."""

import sys

from .cli import main

sys.exit(main())

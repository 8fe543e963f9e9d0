"""``python -m winnow.cli``: the same as the ``winnow`` command."""

import sys

from winnow.cli import main

sys.exit(main())

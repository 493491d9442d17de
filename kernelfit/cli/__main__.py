"""``python -m kernelfit.cli``."""

import sys

from . import main

sys.exit(main())

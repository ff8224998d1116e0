"""`python -m micrograd`: the `micrograd` command (see `micrograd.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

"""Notebooks run by the test suite train on smaller subsets where a full run would be slow.

Kernels inherit this environment; a notebook reads MICROGRAD_QUICK and says which sizes it
used, so the numbers it states are always the ones it computed.
"""

import os

os.environ.setdefault("MICROGRAD_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

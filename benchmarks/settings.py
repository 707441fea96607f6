"""The project's settings with the bare baseline view mounted (``benchmarks/bare.py``)."""

from energygrid.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bare"

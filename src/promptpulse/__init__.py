"""promptpulse: know what your Claude Code use costs.

The collector reads Claude Code's JSONL logs, counts every API response once, prices it, keeps it
in a local ledger that outlives Claude Code's 30-day cleanup, and reports daily, weekly, monthly,
session and 5-hour-block usage with the same numbers as ccusage.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]

"""Periods moved to :mod:`agent.reading.periods` (the reading owns them); kept importable."""

from agent.reading.periods import Period, find_period, is_count_question

__all__ = ["Period", "find_period", "is_count_question"]

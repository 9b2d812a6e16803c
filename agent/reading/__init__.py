"""The question's typed reading, made once per turn (see :mod:`agent.reading.model`)."""

from agent.reading.model import Asks, Concept, Family, Reading, ReadingPeriod, Threshold
from agent.reading.resolution import resolve_reading
from agent.reading.rules import read_question

__all__ = [
    "Asks",
    "Concept",
    "Family",
    "Reading",
    "ReadingPeriod",
    "Threshold",
    "read_question",
    "resolve_reading",
]

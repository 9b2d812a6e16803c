"""What the assistant refuses, as exceptions every door maps to its own words.

Free of LangGraph and of any door, so the core install's commands (``summary``) and the
agent's doors (CLI, API, chat) catch the same classes; ``kind`` names the case for the
API's JSON and each door adds where its user finds the right value.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from fhir_client.client import FhirClient
from fhir_client.errors import ResourceNotFound
from fhir_client.limits import KNOWN_PATIENTS_REMEMBERED

__all__ = ["AssistantError", "ThreadBusy", "ThreadConflict", "UnknownPatient", "read_patient"]


class AssistantError(ValueError):
    """A request the assistant refuses; ``kind`` names the case for the doors to map.

    A ``ValueError``: what was asked cannot be answered as asked (the graph's event
    stream reports such errors as ``error`` events, not crashes).
    """

    kind = "refused"


class UnknownPatient(AssistantError):
    """No such patient in the record."""

    kind = "unknown_patient"

    def __init__(self, patient_id: str, source: str) -> None:
        super().__init__(f"No patient {patient_id!r} in the {source}")
        self.patient_id = patient_id


class ThreadConflict(AssistantError):
    """The caller's thread is a conversation about another patient.

    Deliberately no patient id in the message: it may reach the caller verbatim, and
    which patient another conversation is about is not theirs to learn.
    """

    kind = "thread_conflict"

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"Thread {thread_id!r} is a conversation about another patient")
        self.thread_id = thread_id
        self.public_id = thread_id


class ThreadBusy(AssistantError):
    """Another turn of the thread held it for longer than ``TURN_WAIT_SECONDS``."""

    kind = "thread_busy"

    def __init__(self, thread_id: str, waited: float) -> None:
        super().__init__(
            f"Thread {thread_id!r} is still answering an earlier question "
            f"(waited {waited:.0f} s); retry when it has finished"
        )
        self.thread_id = thread_id


async def read_patient(client: FhirClient, patient_id: str, source: str) -> dict[str, Any]:
    """The Patient resource, or :class:`UnknownPatient` naming the record ``source``."""
    try:
        return await client.read("Patient", patient_id)
    except (ResourceNotFound, ValueError) as error:
        raise UnknownPatient(patient_id, source) from error


class KnownPatients:
    """Patients read once and remembered, so a turn's checks cost one read.

    Bounded (``KNOWN_PATIENTS_REMEMBERED``, least recently checked forgotten first), so
    the graph's own check at the start of a turn costs no second read and the audit
    shows only the reads the question caused.
    """

    def __init__(self, client: FhirClient, source: str) -> None:
        self.client = client
        self.source = source
        self._known: OrderedDict[str, dict[str, Any]] = OrderedDict()

    async def check(self, patient_id: str) -> dict[str, Any]:
        """The Patient resource, or :class:`UnknownPatient`."""
        if patient_id in self._known:
            self._known.move_to_end(patient_id)
            return self._known[patient_id]
        patient = await read_patient(self.client, patient_id, self.source)
        self._known[patient_id] = patient
        while len(self._known) > KNOWN_PATIENTS_REMEMBERED:
            self._known.popitem(last=False)
        return patient

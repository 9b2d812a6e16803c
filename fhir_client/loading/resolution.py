"""Decide which stored resource a conditional reference means, once per run.

``Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999955949`` is
resolved, in order, against: the bundle being loaded, the bundles already
loaded in this run (so this Synthea run's practitioner wins over a namesake
left on the server by another run), then the server, with an ordinary
``identifier`` search so the same code works on HAPI and the embedded
store. A match is refused (the reference stays a logical one) when it is
ambiguous or when the reference's display names someone else: Synthea's
NPIs are reused across runs, and a wrong practitioner in a citation is
worse than none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fhir_client.loading.references import identifier_keys, names_of, parse_conditional_reference

if TYPE_CHECKING:  # the scratch database imports Candidate from here
    from fhir_client.loading.scratch import FileFacts, LoadScratch

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]


class SearchTarget(Protocol):
    """The search call of :class:`fhir_client.client.FhirClient`, all resolution needs."""

    async def search(
        self,
        resource_type: str,
        params: Mapping[str, str | Sequence[str]] | None = None,
        *,
        max_pages: int | None = None,
        max_results: int | None = None,
    ) -> list[JsonObject]: ...


@dataclass(frozen=True)
class Candidate:
    """A resource a conditional reference may mean: its ``Type/id`` and its names."""

    target: str
    names: frozenset[str]

    @classmethod
    def of(cls, resource: Mapping[str, Any]) -> Candidate:
        return cls(f"{resource['resourceType']}/{resource['id']}", names_of(resource))

    def agrees_with(self, displays: set[str]) -> bool:
        """No display, or nothing to compare with, is agreement; else a name must match."""
        return not displays or not self.names or bool(displays & self.names)


IdentifierIndex = dict[str, Candidate | None]


def identifier_index(resources: Sequence[Mapping[str, Any]]) -> IdentifierIndex:
    """Map each ``Type?identifier=system|value`` to the one resource carrying it.

    An identifier carried by two resources maps to ``None`` (ambiguous).
    """
    index: IdentifierIndex = {}
    for resource in resources:
        candidate = Candidate.of(resource)
        for key in identifier_keys(resource):
            existing = index.get(key, candidate)
            index[key] = candidate if existing == candidate else None
    return index


class ConditionalResolver:
    """Resolution state for one load run (see the module docstring).

    The identifiers of the file being loaded and of the files already loaded live in
    the run's scratch database (:mod:`fhir_client.loading.scratch`), so a run over a
    thousand patients does not keep every Encounter's and Claim's identifier in memory.
    The server's answers are kept here: one per distinct reference (practitioners,
    organisations), not per resource.
    """

    def __init__(self, client: SearchTarget, scratch: LoadScratch) -> None:
        self._client = client
        self._scratch = scratch
        self._server_answers: dict[str, Candidate | None] = {}

    def remember(self) -> None:
        """The current file is now on the server: its identifiers join the run's."""
        self._scratch.remember_file()

    async def resolve(self, reference: str, displays: set[str], bundle: FileFacts) -> str | None:
        """``Type/id`` for ``reference``, or ``None`` to keep it as a logical reference."""
        known, candidate = bundle.identifier(reference)
        if not known:
            known, candidate = self._scratch.run_identifier(reference)
        if not known:
            if reference not in self._server_answers:
                self._server_answers[reference] = await self._search(reference)
            candidate = self._server_answers[reference]
        if candidate is None:
            return None
        if not candidate.agrees_with(displays):
            logger.info(
                "%s found %s, whose name is not %s; kept as a logical reference",
                reference,
                candidate.target,
                sorted(displays),
            )
            return None
        return candidate.target

    async def _search(self, reference: str) -> Candidate | None:
        conditional = parse_conditional_reference(reference)
        if conditional is None:
            return None
        params: dict[str, list[str]] = {}
        for name, value in conditional.params:
            params.setdefault(name, []).append(value)
        matches = await self._client.search(conditional.resource_type, params, max_results=2)
        if len(matches) != 1:
            if matches:
                logger.warning(
                    "%s matches several resources; kept as a logical reference", reference
                )
            return None
        return Candidate.of(matches[0])

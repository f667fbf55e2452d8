"""Real Fluent Bit v5.1.1 reads the exporter's documents of the golden fixture pods, minimal and
full, and attaches exactly the records it attached to the pods as the API serves them
(tests/fixtures/fluent-bit/records): the fixtures' rules, held against the binary itself."""

from __future__ import annotations

import pytest

from pod_meta_exporter.domain.documents import DocumentFormat, DocumentProfile
from support import golden

pytestmark = pytest.mark.process

WHY = golden.unavailable()


@pytest.mark.skipif(WHY is not None, reason=f"{WHY}: the golden records are checked by the unit tier only")
@pytest.mark.parametrize("profile", DocumentProfile, ids=lambda profile: profile.value)
def test_real_fluent_bit_gives_the_recorded_records_from_the_exporters_documents(
    profile: DocumentProfile,
) -> None:
    pods = golden.pods()
    documents = {f"{stem}.meta": DocumentFormat(profile).pod_document(pod) for stem, pod in pods.items()}
    streams = {stem: golden.containers(pod) for stem, pod in pods.items()}

    seen = golden.enrich(documents, [stream for found in streams.values() for stream in found])

    for stem, found in streams.items():
        recorded = golden.records(stem)
        for stream in found:
            assert list(seen[stream].items()) == list(recorded[stream.key].items()), (stem, stream.key)

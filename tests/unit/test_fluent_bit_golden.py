"""The project's golden Fluent Bit fixtures, on every checkout: for each pod of
tests/fixtures/fluent-bit/pods, real Fluent Bit v5.1.1 recorded the `kubernetes` object it attaches
to each container's records (tests/fixtures/fluent-bit/records, `make golden`). The rules of
docs/fluent-bit-contract.md must give those records from the pod, and the exporter's documents,
minimal and full, must give them too. The process tier checks the documents with the real binary."""

from __future__ import annotations

from typing import Any

import pytest

from pod_meta_exporter.domain.documents import DocumentFormat, DocumentProfile
from support import golden
from support.fluent_bit import fluent_bit_record

PODS = golden.pods()


def record_of(document: dict[str, Any], stream: golden.Container) -> list[tuple[str, Any]]:
    """The record as a list of pairs, so that the key order counts too."""
    record = fluent_bit_record(
        document,
        namespace=stream.namespace,
        pod=stream.pod,
        container=stream.name,
        docker_id=stream.docker_id,
    )
    return list(record.items())


def test_there_are_fixtures_of_every_kind_the_rules_cover() -> None:
    streams = [stream for pod in PODS.values() for stream in golden.containers(pod)]
    recorded = [golden.records(stem) for stem in PODS]
    assert len(PODS) >= 4
    assert len(streams) >= 6
    kinds = {key for records in recorded for record in records.values() for key in record}
    assert {"labels", "annotations", "pod_ip", "container_hash", "container_image"} <= kinds
    # A pod with neither labels nor annotations, nor an IP or an image ID yet: the keys stay out.
    assert any(
        not {"labels", "annotations", "pod_ip", "container_hash"} & set(record)
        for records in recorded
        for record in records.values()
    )


@pytest.mark.parametrize("stem", PODS)
def test_the_contracts_rules_give_what_real_fluent_bit_gave_for_the_pod_as_served(stem: str) -> None:
    pod, recorded = PODS[stem], golden.records(stem)
    streams = golden.containers(pod)
    assert {stream.key for stream in streams} == set(recorded)
    for stream in streams:
        assert record_of(pod, stream) == list(recorded[stream.key].items()), stream.key


@pytest.mark.parametrize("profile", DocumentProfile, ids=lambda profile: profile.value)
@pytest.mark.parametrize("stem", PODS)
def test_the_exporters_documents_give_fluent_bit_the_same_records(
    stem: str, profile: DocumentProfile
) -> None:
    import json

    pod, recorded = PODS[stem], golden.records(stem)
    document = json.loads(DocumentFormat(profile).pod_document(pod))
    for stream in golden.containers(pod):
        assert record_of(document, stream) == list(recorded[stream.key].items()), stream.key


def test_the_minimal_document_of_a_fixture_holds_no_secret_of_its_spec() -> None:
    pod = PODS["shop_web-7d4b9c8f6d-x2x9z"]
    assert "hunter2" in str(pod)
    assert b"hunter2" not in DocumentFormat(DocumentProfile.MINIMAL).pod_document(pod)

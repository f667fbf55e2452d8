"""File names: Fluent Bit's naming, and the Kubernetes name rules that keep them inside the directory."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pod_meta_exporter.domain import names


def test_pod_and_namespace_files_are_named_as_fluent_bit_looks_them_up() -> None:
    assert names.pod_key("kube-system", "coredns-5d78c9869d-abcde").filename == (
        "kube-system_coredns-5d78c9869d-abcde.meta"
    )
    assert names.namespace_filename("kube-system") == "kube-system.namespace_meta"


@pytest.mark.parametrize(
    ("filename", "parsed"),
    [
        ("shop_web-0.meta", names.PodKey("shop", "web-0")),
        ("shop_web.v2.meta", names.PodKey("shop", "web.v2")),
        ("shop.namespace_meta", "shop"),
        ("shop-web-0.meta", None),  # the pre-1.3 separator is not ours
        ("Shop_web.meta", None),
        ("shop_.meta", None),
        ("..namespace_meta", None),
        (".tmp-shop_web-0.meta-1234", None),
        ("notes.txt", None),
    ],
)
def test_a_directory_entry_is_read_back_only_if_we_could_have_written_it(
    filename: str, parsed: names.PodKey | str | None
) -> None:
    assert names.parse_filename(filename) == parsed


@given(st.text(max_size=300))
def test_no_accepted_name_can_leave_the_directory(text: str) -> None:
    for check in (names.check_namespace, names.check_pod_name):
        try:
            value = check(text)
        except names.InvalidName:
            continue
        assert "/" not in value
        assert "\x00" not in value
        assert ".." not in value
        assert not value.startswith(".")


@given(
    st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True),
    st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,40}[a-z0-9])?", fullmatch=True),
)
def test_every_valid_pod_file_name_round_trips(namespace: str, name: str) -> None:
    try:
        key = names.pod_key(namespace, name)
    except names.InvalidName:
        return  # e.g. "a..b": the regex above is looser than a DNS subdomain
    assert names.parse_filename(key.filename) == key

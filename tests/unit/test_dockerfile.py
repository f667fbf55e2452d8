"""The Dockerfile's bases: build arguments, whose defaults are the images Dependabot watches."""

from __future__ import annotations

import re

from support.manifests import REPO

DOCKERFILE = REPO / "Dockerfile"
BASES = REPO / "deploy" / "docker" / "bases.Dockerfile"


def _arguments() -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE))


def test_the_bases_are_build_arguments_that_every_stage_starts_from() -> None:
    stages = re.findall(r"^FROM (\S+)", DOCKERFILE.read_text(), re.MULTILINE)

    assert stages == ["${BUILDER_IMAGE}", "${RUNTIME_IMAGE}"]


def test_their_defaults_are_the_images_dependabot_updates() -> None:
    watched = re.findall(r"^FROM (\S+)$", BASES.read_text(), re.MULTILINE)

    defaults = _arguments()
    assert [defaults["BUILDER_IMAGE"], defaults["RUNTIME_IMAGE"]] == watched

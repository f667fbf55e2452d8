"""The e2e tier's offline kind (tests/e2e/offline), in the parts that run without root or Docker:
the runc wrapper's edit, image archives, the image cache, the node's entrypoint, the engine's
settings, and which mode a run takes."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from e2e.offline import archives, engine, images, node_image, run, runc_wrapper
from e2e.offline.archives import Config
from support.manifests import E2E_LOCAL_OVERLAY_DIR, E2E_OVERLAY_DIR
from support.sysctls import KUBELET_SYSCTLS

EVERY_CAPABILITY = (1 << len(runc_wrapper.CAPABILITIES)) - 1
LAST_CAP = len(runc_wrapper.CAPABILITIES) - 1
SYS_RESOURCE = runc_wrapper.CAPABILITIES.index("CAP_SYS_RESOURCE")


# --- the runc wrapper --------------------------------------------------------------------------


def test_the_capabilities_missing_are_those_whose_bit_the_bounding_set_lacks() -> None:
    without_sys_resource = EVERY_CAPABILITY & ~(1 << SYS_RESOURCE)

    assert runc_wrapper.missing_capabilities(without_sys_resource, LAST_CAP) == {"CAP_SYS_RESOURCE"}
    assert runc_wrapper.missing_capabilities(EVERY_CAPABILITY, LAST_CAP) == frozenset()
    # Bits the kernel does not know are not missing.
    assert runc_wrapper.missing_capabilities(without_sys_resource, SYS_RESOURCE - 1) == frozenset()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--root", "/r", "create", "--bundle", "/b", "id"], "/b/config.json"),
        (["--log", "/l", "run", "-b=/b", "id"], "/b/config.json"),
        (["create", "id"], "config.json"),
        (["exec", "--process", "/tmp/p.json", "--detach", "id"], "/tmp/p.json"),
        (["exec", "-p", "/tmp/p.json", "id"], "/tmp/p.json"),
        (["state", "id"], None),
        (["exec", "id", "sh"], None),
    ],
)
def test_the_wrapper_edits_the_spec_that_runc_reads_the_process_from(
    args: list[str], expected: str | None
) -> None:
    assert runc_wrapper.spec_files(args) == ([Path(expected)] if expected else [])


def test_the_wrapper_drops_the_missing_capability_from_every_set_and_nothing_else(tmp_path: Path) -> None:
    capabilities = ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"]
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "ociVersion": "1.0.2",
                "process": {
                    "args": ["sh"],
                    "capabilities": dict.fromkeys(("bounding", "effective"), capabilities),
                },
                "root": {"path": "rootfs"},
            }
        )
    )
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["ls"], "capabilities": {"permitted": capabilities}}))

    for path in (config, process):
        runc_wrapper.rewrite(path, frozenset({"CAP_SYS_RESOURCE"}))

    edited = json.loads(config.read_text())
    assert edited["process"]["capabilities"] == {
        "bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN"],
        "effective": ["CAP_CHOWN", "CAP_SYS_ADMIN"],
    }
    assert edited["root"] == {"path": "rootfs"}
    assert json.loads(process.read_text())["capabilities"] == {"permitted": ["CAP_CHOWN", "CAP_SYS_ADMIN"]}


def test_the_wrapper_leaves_a_spec_without_the_missing_capability_untouched(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    text = '{"ociVersion": "1.0.2",  "process": {"capabilities": {"bounding": ["CAP_CHOWN"]}}}'
    config.write_text(text)

    runc_wrapper.rewrite(config, frozenset({"CAP_SYS_RESOURCE"}))

    assert config.read_text() == text


# --- image archives ------------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, content: bytes) -> tuple[Path, str]:
    source = tmp_path / "tool"
    source.write_bytes(content)
    source.chmod(0o755)
    layer = tmp_path / f"{name}.layer"
    archives.files_layer(
        layer, {"usr/local/bin/tool": source, "etc/motd": b"hi\n"}, {"bin": "usr/bin"}, {"tmp": 0o1777}
    )
    archive = tmp_path / f"{name}.tar"
    image_id = archives.write(
        archive, names=("local/tool:1",), layer=layer, config=Config(entrypoint=("/usr/local/bin/tool",))
    )
    return archive, image_id


def test_an_archive_is_what_docker_load_and_ctr_import_read(tmp_path: Path) -> None:
    archive, image_id = _write(tmp_path, "a", b"#!/bin/sh\n")

    with tarfile.open(archive) as tar:
        (entry,) = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        config = json.load(tar.extractfile(entry["Config"]))  # type: ignore[arg-type]
        (layer_name,) = entry["Layers"]
        with tarfile.open(fileobj=tar.extractfile(layer_name)) as layer:
            members = {m.name: m for m in layer.getmembers()}

    assert entry["RepoTags"] == ["local/tool:1"]
    assert image_id == archives.image_id(archive) == "sha256:" + entry["Config"].removesuffix(".json")
    assert config["config"]["Entrypoint"] == ["/usr/local/bin/tool"]
    assert config["rootfs"]["diff_ids"] == ["sha256:" + layer_name.split("/")[0]]
    assert members["usr/local/bin/tool"].mode == 0o755
    assert members["etc/motd"].mode == 0o644
    assert members["tmp"].mode == 0o1777
    assert members["usr/local/bin"].isdir()
    assert members["bin"].issym()
    assert members["bin"].linkname == "usr/bin"
    assert not (tmp_path / "a.layer").exists()  # moved into the archive


def test_the_same_inputs_give_the_same_image_id_and_another_content_another(tmp_path: Path) -> None:
    ids = {}
    for name, content in (("a", b"one"), ("b", b"one"), ("c", b"two")):
        (tmp_path / name).mkdir()
        ids[name] = _write(tmp_path / name, name, content)[1]

    assert ids["a"] == ids["b"]
    assert ids["c"] != ids["a"]


def test_the_libraries_of_a_dynamic_binary_are_found_and_a_static_one_has_none() -> None:
    found = archives.with_libraries(Path(sys.executable).resolve())

    assert any(path.startswith("lib") and "libc.so" in path for path in found)
    assert all(source.is_file() for source in found.values())
    assert archives.with_libraries(Path(__file__)) == {}


# --- the image cache ---------------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "pod-meta-exporter" / "e2e"


def _recipe(inputs: tuple[str, ...], builds: list[str]) -> images.Recipe:
    def build(layer: Path, _scratch: Path) -> Config:
        builds.append(inputs[0])
        archives.files_layer(layer, {"etc/input": inputs[0].encode()})
        return Config()

    return images.Recipe("probe", ("local/probe:1",), inputs, build)


def test_an_image_is_built_once_and_again_when_an_input_changes(cache: Path) -> None:
    builds: list[str] = []

    first = _recipe(("v1",), builds).ensure(lambda _: None)
    again = _recipe(("v1",), builds).ensure(lambda _: None)
    changed = _recipe(("v2",), builds).ensure(lambda _: None)

    assert builds == ["v1", "v2"]
    assert first == again != changed
    assert sorted(cache.glob("probe-*.tar")) == [changed]  # the stale archive is removed


def test_a_build_that_fails_leaves_no_archive(cache: Path) -> None:
    def broken(_layer: Path, _scratch: Path) -> Config:
        msg = "mmdebstrap failed"
        raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="mmdebstrap failed"):
        images.Recipe("broken", ("local/broken:1",), ("x",), broken).ensure(lambda _: None)

    assert list(cache.iterdir()) == []


# --- the names the suite swaps in --------------------------------------------------------------


def test_the_local_overlay_swaps_in_the_names_the_images_are_built_under() -> None:
    overlay = yaml.safe_load((E2E_LOCAL_OVERLAY_DIR / "kustomization.yaml").read_text())
    swapped = {entry["name"]: f"{entry['newName']}:{entry['newTag']}" for entry in overlay["images"]}
    patch = (E2E_OVERLAY_DIR / "daemonset-patch.yaml").read_text()

    assert overlay["resources"] == ["../overlay"]
    assert swapped == {"ghcr.io/fluent/fluent-bit": images.LOCAL_FLUENT_BIT, "busybox": images.LOCAL_BUSYBOX}
    # and the registry overlay still runs the images these replace
    assert "image: ghcr.io/fluent/fluent-bit:5.1.1" in patch
    assert "image: busybox:1.36.1" in patch


def test_local_images_have_local_names_and_only_kubeadms_have_official_ones() -> None:
    local = (
        images.LOCAL_FLUENT_BIT,
        images.LOCAL_BUSYBOX,
        images.LOCAL_PYTHON_BUILD,
        images.LOCAL_PYTHON_RUNTIME,
    )

    assert all(name.startswith("local/") for name in local)


# --- the node image's entrypoint ----------------------------------------------------------------


def test_the_nodes_entrypoint_shadows_every_setting_the_kubelet_or_systemd_writes(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "usr/lib/sysctl.d").mkdir(parents=True)
    (rootfs / "usr/lib/sysctl.d/50-pid-max.conf").write_text("kernel.pid_max = 4194304\n")
    (rootfs / "usr/local/bin").mkdir(parents=True)

    node_image._keep_host_settings(rootfs)

    script = (rootfs / node_image.ENTRYPOINT.lstrip("/")).read_text()
    shadowed = [line.split()[1] for line in script.splitlines() if line.startswith("shadow ")]
    assert shadowed == [*KUBELET_SYSCTLS, *node_image.SYSTEMD_SYSCTLS]
    assert script.rstrip().endswith('exec /usr/local/bin/entrypoint "$@"')
    assert subprocess.run(["sh", "-n", "-c", script], check=False).returncode == 0
    assert list((rootfs / "usr/lib/sysctl.d").iterdir()) == []


# --- the engine ----------------------------------------------------------------------------------


@pytest.fixture
def offline_engine(tmp_path: Path) -> engine.OfflineEngine:
    return engine.OfflineEngine(parent=tmp_path)  # not started: its work directory only


def test_the_engine_leaves_the_hosts_network_alone_and_has_a_cgroup_parent_of_its_own(
    offline_engine: engine.OfflineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runc_wrapper, "missing_here", frozenset)
    (offline_engine.workdir / "bin").mkdir()

    config = offline_engine._daemon_config()

    assert (config["bridge"], config["iptables"], config["ip-forward"], config["ip-masq"]) == (
        "none",
        False,
        False,
        False,
    )
    assert config["cgroup-parent"] == f"/{offline_engine.cgroup_parent}"
    assert offline_engine.cgroup_parent.startswith("pod-meta-exporter-e2e-")
    assert config["hosts"] == [f"unix://{offline_engine.socket}"]
    assert "default-runtime" not in config  # nothing missing: runc as it is


def test_the_engine_runs_runc_through_the_wrapper_where_a_capability_is_missing(
    offline_engine: engine.OfflineEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runc_wrapper, "missing_here", lambda: frozenset({"CAP_SYS_RESOURCE"}))
    (offline_engine.workdir / "bin").mkdir()

    config = offline_engine._daemon_config()

    runtime = config["default-runtime"]
    launcher = Path(config["runtimes"][runtime]["path"])  # type: ignore[index]
    assert launcher.read_text().split()[-2:] == [runc_wrapper.__file__, '"$@"']
    assert launcher.stat().st_mode & 0o111


# --- which mode a run takes ----------------------------------------------------------------------

PRINT_ENVIRONMENT = [
    sys.executable,
    "-c",
    "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('E2E_')}))",
]


def _run(capfd: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str]]:
    code = run.run(PRINT_ENVIRONMENT)
    out = capfd.readouterr().out
    return code, json.loads(out.strip().splitlines()[-1])


def test_with_a_registry_the_command_runs_as_it_is(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("E2E_IMAGES", "registry")
    monkeypatch.delenv("E2E_UNAVAILABLE", raising=False)

    code, environ = _run(capfd)

    assert code == 0
    assert environ == {"E2E_IMAGES": "registry", "E2E_REQUIRED": "1"}


def test_where_nothing_can_be_built_the_command_runs_told_why(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("E2E_IMAGES", "local")
    monkeypatch.setattr(run, "why_not_local", lambda: "needs root on Linux")

    code, environ = _run(capfd)

    assert code == 0
    assert environ["E2E_UNAVAILABLE"] == "needs root on Linux"

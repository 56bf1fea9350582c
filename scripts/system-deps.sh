# shellcheck shell=bash
# Sourced by ./run and .ci/run. Makes sure the system programs the tests drive are installed:
# as root with apt-get it installs Debian's packages; otherwise it says what to install.

# Maps a program to the Debian package that ships it.
debian_package_for() {
  case "$1" in
    redis-server) echo redis-server ;;
    chromium) echo chromium ;;
    *) echo "$1" ;;
  esac
}

ensure_system_packages() {
  local missing=() program
  for program in "$@"; do
    command -v "$program" >/dev/null 2>&1 || missing+=("$program")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local packages=()
  for program in "${missing[@]}"; do packages+=("$(debian_package_for "$program")"); done
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${packages[*]} from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >&2
  else
    log "missing: ${missing[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${packages[*]}; macOS: brew install redis chromium) and run again."
    return 1
  fi
}

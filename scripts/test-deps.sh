#!/usr/bin/env bash
# Runs before `npm test` (pretest): the tests start private redis-server processes (and use redis-cli), and the CORS
# test drives a real Chromium. Installs what is missing with apt-get when it can (root, or sudo without a password);
# otherwise names what is missing in one line and stops before any test runs. TEST_DEPS=skip runs the tests anyway.
set -uo pipefail

[ "${TEST_DEPS:-}" = skip ] && exit 0

chromium_path=${CHROMIUM_PATH:-/usr/bin/chromium}
check() {
  missing=() packages=()
  command -v redis-server >/dev/null 2>&1 || { missing+=(redis-server); packages+=(redis-server); }
  command -v redis-cli >/dev/null 2>&1 || { missing+=(redis-cli); packages+=(redis-tools); }
  [ -x "$chromium_path" ] || { missing+=("chromium ($chromium_path)"); packages+=(chromium); }
  [ ${#packages[@]} -eq 0 ]
}
check && exit 0

as_root=
if [ "$(id -u)" = 0 ]; then as_root=env; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as_root='sudo -n env'; fi

if [ -n "$as_root" ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing ${packages[*]} with apt-get" >&2
  # Noninteractive with stdin closed: a prompt would hang a CI run instead of failing it.
  $as_root DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2 &&
    $as_root DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" </dev/null >&2
  check && exit 0
fi

echo "npm test needs ${missing[*]}, missing here: install with 'sudo apt-get install -y ${packages[*]}' (Debian/Ubuntu; or set CHROMIUM_PATH to a Chromium), or run with TEST_DEPS=skip to run the tests anyway" >&2
exit 1

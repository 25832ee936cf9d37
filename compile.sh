#!/usr/bin/env bash
# Builds zt in its two single-file forms, both with the permissions in permissions.txt (no -A):
#   dist/zt     `deno compile` binary. Needs denort: from DENORT_BIN when set, else deno downloads it
#               from dl.deno.land (skipped, with a message, when that host is unreachable).
#   dist/zt.js  `deno bundle` file (npm packages included, only node:* imports left). Always built;
#               runs offline: deno run --cached-only --no-prompt <permissions> dist/zt.js run
# Usage: ./compile.sh [--bundle-only]  (or deno task compile). DENO: the deno to use (default: deno on PATH).
set -euo pipefail
cd "$(dirname "$0")"

BUNDLE_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --bundle-only) BUNDLE_ONLY=1 ;;
    *) echo "usage: compile.sh [--bundle-only]" >&2; exit 2 ;;
  esac
done

DENO="${DENO:-$(command -v deno || true)}"
if [[ -z "$DENO" ]]; then
  echo "compile.sh: no deno on PATH; set DENO=/path/to/deno (e.g. the one npx -y deno@2.9.6 installs)" >&2
  exit 1
fi
PERMS_FILE=permissions.txt

# permissions.txt: one flag per line, `#` comments. The tests read it the same way
# (tests/fakes/permissions.ts).
PERMS=()
while IFS= read -r line || [[ -n "$line" ]]; do
  line="${line%%#*}"
  line="${line#"${line%%[![:space:]]*}"}"
  line="${line%"${line##*[![:space:]]}"}"
  [[ -z "$line" ]] && continue
  if [[ ! "$line" =~ ^--allow-[a-z]+(=[^[:space:]]+)?$ && ! "$line" =~ ^--v8-flags=[^[:space:]]+$ ]]; then
    echo "compile.sh: $PERMS_FILE: \"$line\" is not a single --allow-* or --v8-flags= flag" >&2
    exit 1
  fi
  PERMS+=("$line")
done <"$PERMS_FILE"
echo "permissions (from $PERMS_FILE): ${PERMS[*]}"

mkdir -p dist

# 1. The bundle.
"$DENO" bundle --quiet --platform deno -o dist/zt.js main.ts
echo "built dist/zt.js ($(wc -c <dist/zt.js) bytes)"

# 2. The binary.
compile_binary() {
  rm -f dist/zt
  "$DENO" compile --quiet --no-check "${PERMS[@]}" -o dist/zt main.ts
  # A DENORT_BIN that is really the full deno CLI builds "successfully" but yields a deno CLI, not zt.
  local v
  v="$(./dist/zt version 2>&1 | head -n1 || true)"
  if [[ "$v" != zt\ * ]]; then
    echo "compile.sh: dist/zt does not run zt (\`dist/zt version\` printed: ${v:0:120})." >&2
    echo "  DENORT_BIN must be the denort runtime of deno $("$DENO" --version | head -1 | cut -d' ' -f2)," >&2
    echo "  not the deno CLI." >&2
    rm -f dist/zt
    return 1
  fi
  echo "built dist/zt ($v)"
}

if [[ "$BUNDLE_ONLY" == 1 ]]; then
  echo "skipped dist/zt (--bundle-only)"
elif [[ -n "${DENORT_BIN:-}" ]]; then
  if [[ ! -x "$DENORT_BIN" ]]; then
    echo "compile.sh: DENORT_BIN=$DENORT_BIN is not an executable file" >&2
    exit 1
  fi
  echo "compiling dist/zt with DENORT_BIN=$DENORT_BIN"
  DENORT_BIN="$DENORT_BIN" compile_binary
elif timeout 5 bash -c "exec 3<>/dev/tcp/dl.deno.land/443" 2>/dev/null; then
  echo "compiling dist/zt (deno downloads denort from dl.deno.land)"
  compile_binary
else
  echo "skipped dist/zt: deno compile needs denort, which deno downloads from dl.deno.land, and that host"
  echo "  is unreachable here (no npm package ships denort). Set DENORT_BIN=/path/to/denort to build it,"
  echo "  or build the image (Dockerfile), whose build stage has the network."
fi

echo
echo "run the bundle (offline, no DENO_DIR needed; npm packages are inside it):"
echo "  deno run --cached-only --no-prompt ${PERMS[*]} dist/zt.js run"
if [[ -x dist/zt ]]; then
  echo "run the binary:"
  echo "  dist/zt run"
fi

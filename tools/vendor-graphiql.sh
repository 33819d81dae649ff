#!/usr/bin/env bash
# Refresh api/static/graphiql/vendor/ from the npm registry: the production builds and CSS of the pinned packages
# below, each package's LICENSE beside its files, and the README that names the versions. The page is served from
# the app's own origin so that GraphiQL works where no CDN can be reached; to move to other versions, change the
# pins here, run this script, and check the page with `pytest tests/browser`.
#
# GraphiQL 3.x is the last line that ships a UMD build (4.x is ESM with Monaco and needs a bundler); React 18.x is
# the last with UMD builds; @graphiql/plugin-explorer 3.2.5 is the one built against the @graphiql/react 0.28 that
# graphiql 3.8.3 bundles.
set -euo pipefail

GRAPHIQL=3.8.3
EXPLORER=3.2.5
REACT=18.3.1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/api/static/graphiql/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

unpack() {  # unpack NAME VERSION: the package's tarball from the registry, unpacked under $work/NAME
    local dir="$work/${1//\//-}"
    mkdir -p "$dir"
    (cd "$work" && npm pack --silent "$1@$2" >/dev/null)
    tar xzf "$work/$(echo "${1#@}" | tr / -)-$2.tgz" -C "$dir" --strip-components=1
    printf '%s\n' "$dir"
}

take() {  # take SOURCE_DIR TARGET_DIR FILE...: copy the files, unchanged, and the package's LICENSE
    local from="$1" to="$2"
    shift 2
    mkdir -p "$to"
    for file in "$@"; do
        cp "$from/$file" "$to/"
    done
    if [[ -f "$from/LICENSE" ]]; then
        cp "$from/LICENSE" "$to/LICENSE"
    fi
}

rm -rf "$dest"
mkdir -p "$dest"

src="$(unpack graphiql "$GRAPHIQL")"
take "$src" "$dest/graphiql-$GRAPHIQL" graphiql.min.js graphiql.min.css

src="$(unpack react "$REACT")"
take "$src" "$dest/react-$REACT" umd/react.production.min.js

src="$(unpack react-dom "$REACT")"
take "$src" "$dest/react-dom-$REACT" umd/react-dom.production.min.js

src="$(unpack @graphiql/plugin-explorer "$EXPLORER")"
take "$src" "$dest/plugin-explorer-$EXPLORER" dist/index.umd.js dist/style.css
if [[ ! -f "$dest/plugin-explorer-$EXPLORER/LICENSE" ]]; then
    # The explorer's tarball has no LICENSE file of its own: its package.json says MIT and it lives in the
    # graphql/graphiql repository, whose LICENSE (the one graphiql ships) covers it.
    license="$(cd "$src" && node -p 'require("./package.json").license')"
    {
        printf '@graphiql/plugin-explorer %s is published under the %s license (its package.json);\n' "$EXPLORER" "$license"
        printf 'the package ships no LICENSE file. It is part of the graphql/graphiql repository, whose license follows.\n\n'
        cat "$dest/graphiql-$GRAPHIQL/LICENSE"
    } >"$dest/plugin-explorer-$EXPLORER/LICENSE"
fi

# The files are byte for byte those of the registry's tarballs: the sums let anyone check that.
(cd "$dest" && find . -type f ! -name SHA256SUMS | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)

cat >"$root/api/static/graphiql/README.md" <<README
# GraphiQL, served from the app itself

\`GET /graphql\` in a browser (dev mode only) is the page of \`api/graphiql.py\`; it loads only these files, from
\`/static/graphiql/\`, so it works on a network without access to a CDN.

| package | version | files | license |
| --- | --- | --- | --- |
| graphiql | $GRAPHIQL | \`vendor/graphiql-$GRAPHIQL/\` graphiql.min.js, graphiql.min.css | MIT |
| react | $REACT | \`vendor/react-$REACT/\` react.production.min.js (UMD) | MIT |
| react-dom | $REACT | \`vendor/react-dom-$REACT/\` react-dom.production.min.js (UMD) | MIT |
| @graphiql/plugin-explorer | $EXPLORER | \`vendor/plugin-explorer-$EXPLORER/\` index.umd.js, style.css | MIT |

Each package's LICENSE is kept beside its files; the files are unchanged from the registry's tarballs
(\`vendor/SHA256SUMS\`; the source maps are left out). \`app.js\` and \`app.css\` are this project's own: they start
GraphiQL with the explorer and keep the Authorization header out of the browser's storage and the address bar.

Refresh with \`tools/vendor-graphiql.sh\` (npm from the registry; the versions are pinned in that script), then
run \`pytest tests/browser\`.
README
echo "vendored into $dest"

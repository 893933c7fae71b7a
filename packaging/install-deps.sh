#!/bin/sh
# Installs what hostdevd needs on Debian 12, as root: the build tools and
# libraries, and with --test what the test suite needs too. Idempotent.
set -eu

build="build-essential autoconf automake autoconf-archive pkg-config
       libmicrohttpd-dev libgnutls28-dev libjson-c-dev libpci-dev libsystemd-dev zlib1g-dev libzstd-dev pci.ids curl"
test="pciutils python3 python3-pytest python3-jsonschema python3-yaml
      python3-dbusmock dbus-daemon gnutls-bin openssl zstd prometheus
      debhelper dh-autoreconf dpkg-dev lintian rpm systemd man-db kmod debootstrap systemd-container
      mdevctl clang libclang-rt-14-dev"

pkgs=$build
[ "${1:-}" = "--test" ] && pkgs="$build $test"

if [ "$(id -u)" != 0 ]; then
        echo "install-deps.sh: run as root (apt-get install)" >&2
        exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
echo "install-deps.sh: installed: $(echo $pkgs | tr '\n' ' ')"

#!/usr/bin/env bash
# deps.sh: installs, on Debian 12, every package Parallax needs to build, test and run the
# demo. Safe to run again. Needs root (or sudo).
set -euo pipefail
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
PACKAGES=(
    build-essential cmake pkg-config git            # toolchain
    libzmq3-dev libprotobuf-c-dev protobuf-c-compiler # transport and wire contract
    libevent-dev libpq-dev                           # agent event loop, database client
    libcmocka-dev                                    # unit tests
    postgresql postgresql-client                     # the database (a private cluster is used)
    iproute2 nftables procps psmisc util-linux       # namespaces, fault injection, process control
)
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
echo "deps.sh: packages installed"

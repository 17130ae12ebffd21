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
    libssl-dev libldns-dev                           # https probes (OpenSSL), dns probes (ldns)
    libcurl4-openssl-dev                             # the notifier's HTTP and SMTP client
    prometheus-alertmanager                          # a real Alertmanager in the notification tests
    prometheus                                       # a real Prometheus scraping /metrics (coord_metrics, world_blackout_withdraw)
    libcmocka-dev                                    # unit tests
    postgresql postgresql-client                     # the database (a private cluster is used)
    iproute2 nftables procps psmisc util-linux       # namespaces, fault injection, process control
    iputils-ping                                     # the bounded flood of the stress fault
    nginx-light nsd opensmtpd openssl                # real probe targets in the tests' namespaces
    bird2                                            # real BGP in the world: border, transit, a route collector writing MRT
    fping curl dnsutils knot-dnsutils traceroute     # peers the agent's verdicts are checked against
    prometheus-blackbox-exporter                     # peer for the HTTP probe benchmark
    systemd                                          # systemd-analyze verify of the packaged units
    file                                             # cpack's .deb generator (shlibdeps) needs it
    python3 python3-psycopg2 jq                      # the verdict model test and test helpers
    python3-mrtparse                                 # an independent MRT parser the routes tests check ours against
    mmdebstrap                                       # the fresh-root test (tests/fresh/)
    clang-format                                     # .ci/run checks the C style (.clang-format)
)
export DEBIAN_FRONTEND=noninteractive
# The servers above are started by the tests inside their own namespaces; keep the packages
# from starting system-wide copies (policy-rc.d 101 = "do not start services").
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null && $SUDO chmod +x $policy
    added_policy=1
fi
$SUDO apt-get update -qq
rc=0
$SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null || rc=$?
[ $added_policy = 0 ] || $SUDO rm -f $policy
[ $rc = 0 ] || { echo "deps.sh: apt-get install failed" >&2; exit $rc; }
echo "deps.sh: packages installed"

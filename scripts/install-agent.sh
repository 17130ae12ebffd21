#!/bin/sh
# install-agent.sh: turns a fresh Debian or Ubuntu VPS into a Parallax vantage, in one command:
# installs the parallax-agent package, puts the agent's config (from `parallaxctl agent add`)
# at /etc/parallax/agent.conf with mode 0600, and enables and starts the systemd unit.
#   sudo sh install-agent.sh [--deb FILE] [--no-start] CONFIG
# Without --deb, the one parallax-agent_*.deb next to CONFIG, next to this script or in the
# current directory is used. Safe to run again (an upgrade, a new config after rotate-key).
set -eu

PROG=install-agent.sh
die() { echo "$PROG: $*" >&2; exit 1; }
usage() {
    echo "usage: sudo sh $PROG [--deb FILE] [--no-start] CONFIG" >&2
    exit 2
}

deb= start=1 conf=
while [ $# -gt 0 ]; do
    case $1 in
    --deb) [ $# -ge 2 ] || usage; deb=$2; shift 2 ;;
    --no-start) start=0; shift ;;
    -h|--help) echo "usage: sudo sh $PROG [--deb FILE] [--no-start] CONFIG"; exit 0 ;;
    -*) echo "$PROG: unknown option '$1'" >&2; usage ;;
    *) [ -z "$conf" ] || usage; conf=$1; shift ;;
    esac
done
[ -n "$conf" ] || usage
[ "$(id -u)" = 0 ] || die "run it as root (sudo sh $PROG ...)"
command -v dpkg >/dev/null || die "dpkg not found: this script is for Debian and Ubuntu"
[ -f "$conf" ] && [ -r "$conf" ] || die "cannot read the config file '$conf'"

# The config must be one parallaxctl wrote: it names the coordinator and holds a secret key.
for key in coordinator coordinator_key secret_key state_dir; do
    grep -Eq "^[[:space:]]*$key[[:space:]]*=" "$conf" || die "$conf has no '$key': use the file 'parallaxctl agent add' wrote"
done
# Under systemd the agent already runs unprivileged; `user` would make it try to switch.
if grep -Eq '^[[:space:]]*user[[:space:]]*=' "$conf"; then
    die "$conf sets 'user': remove that line, the systemd unit runs the agent unprivileged"
fi

if [ -z "$deb" ]; then
    for dir in "$(dirname "$conf")" "$(dirname "$0")" .; do
        set -- "$dir"/parallax-agent_*.deb
        [ -e "$1" ] || continue
        [ $# -eq 1 ] || die "several packages in $dir ($*): choose one with --deb FILE"
        deb=$1
        break
    done
    [ -n "$deb" ] || die "no parallax-agent_*.deb found next to $conf, $0 or here: pass --deb FILE"
fi
[ -f "$deb" ] || die "no such package: $deb"

echo "$PROG: installing $deb"
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -i "$deb" >/dev/null; then
    # Missing libraries: let apt fetch them, which completes the package's installation.
    apt-get install -f -y -qq >/dev/null || die "installing $deb failed (see the dpkg messages above)"
fi

install -d -m 0755 -o root -g root /etc/parallax
install -m 0600 -o root -g root "$conf" /etc/parallax/agent.conf
echo "$PROG: wrote /etc/parallax/agent.conf (0600)"

if [ "$start" = 0 ]; then
    echo "$PROG: not starting (--no-start); start it with: systemctl enable --now parallax-agent"
elif [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable parallax-agent.service >/dev/null 2>&1
    # restart, not start: a new config (after rotate-key) must be read.
    systemctl restart parallax-agent.service
    systemctl is-active --quiet parallax-agent.service ||
        die "parallax-agent did not start: journalctl -u parallax-agent"
    echo "$PROG: parallax-agent is running (journalctl -u parallax-agent -f to follow it)"
else
    echo "$PROG: systemd is not running here; start the agent with: parallax-agent -c /etc/parallax/agent.conf"
fi

# lab.sh: a small internet in network namespaces for probe tests (sourced, not run).
#
#   vantage ${LAB}v 198.51.100.2 ── router ${LAB}r 198.51.100.1 | 203.0.113.1 ── servers ${LAB}s 203.0.113.10
#
# The server namespace runs real servers from Debian's packages: nginx (HTTP on 80, HTTPS on
# 443 with a certificate from the lab's own CA, HTTPS on 8443 with an expired one, /down
# answering 503), nsd (authoritative for lab.test; broken.test configured without data, so it
# answers SERVFAIL; anything else REFUSED) and OpenSMTPD on 25. Only documentation ranges are
# used, inside namespaces made here. lab_down removes everything and is safe to call twice;
# lab_up first removes a stale lab of the same name.
#
# Needs root. Functions: lab_up NAME DIR, lab_down, in_v/in_r/in_s CMD..., lab_stop SERVER,
# lab_start SERVER (SERVER: nginx, nsd, smtpd).

LAB_V_ADDR=198.51.100.2
LAB_R_V_ADDR=198.51.100.1
LAB_R_S_ADDR=203.0.113.1
LAB_S_ADDR=203.0.113.10

in_v() { ip netns exec "${LAB}v" "$@"; }
in_r() { ip netns exec "${LAB}r" "$@"; }
in_s() { ip netns exec "${LAB}s" "$@"; }

lab_down() {
    [ -n "${LAB:-}" ] || return 0
    local pidfile
    for pidfile in "$LAB_DIR"/*.pid.lab; do
        [ -f "$pidfile" ] || continue
        kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
    done
    # Anything still running in the namespaces dies with them.
    for ns in "${LAB}v" "${LAB}r" "${LAB}s"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
        rm -rf "/etc/netns/$ns"
    done
}

# Name resolution inside the lab stays inside the lab: `ip netns exec` bind-mounts
# /etc/netns/NS/{resolv.conf,hosts} over the host's, so nothing asks a real resolver (and
# OpenSMTPD's reverse lookup of a client, done before its greeting, ends at once).
_lab_names() {
    local ns
    for ns in "${LAB}v" "${LAB}r" "${LAB}s"; do
        mkdir -p "/etc/netns/$ns"
        echo "nameserver $LAB_S_ADDR" >"/etc/netns/$ns/resolv.conf"
        printf '127.0.0.1 localhost\n%s vantage.lab.test\n%s router.lab.test\n%s www.lab.test\n' \
            "$LAB_V_ADDR" "$LAB_R_V_ADDR" "$LAB_S_ADDR" >"/etc/netns/$ns/hosts"
    done
}

_lab_link() {  # _lab_link NS1 IF1 ADDR1 NS2 IF2 ADDR2
    ip link add "$2" type veth peer name "$5"
    ip link set "$2" netns "$1"
    ip link set "$5" netns "$4"
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$4" addr add "$6" dev "$5"
    ip -n "$1" link set "$2" up
    ip -n "$4" link set "$5" up
}

_lab_certs() {
    local d=$LAB_DIR/pki
    mkdir -p "$d/ca"
    : >"$d/ca/index.txt"
    echo 1000 >"$d/ca/serial"
    cat >"$d/ca.cnf" <<CNF
[ ca ]
default_ca = lab
[ lab ]
dir = $d/ca
database = $d/ca/index.txt
serial = $d/ca/serial
new_certs_dir = $d/ca
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
[ any ]
commonName = supplied
CNF
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=parallax-lab-ca -days 3650 \
        -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
    local name start end
    for name in good old; do
        openssl req -new -newkey rsa:2048 -nodes -subj /CN=www.lab.test \
            -addext "subjectAltName=DNS:www.lab.test" \
            -keyout "$d/$name.key" -out "$d/$name.csr" 2>/dev/null
        if [ $name = good ]; then
            start=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ); end=$(date -u -d '+30 days' +%Y%m%d%H%M%SZ)
        else
            start=20240101000000Z; end=20240201000000Z
        fi
        openssl ca -batch -config "$d/ca.cnf" -cert "$d/ca.crt" -keyfile "$d/ca.key" \
            -in "$d/$name.csr" -out "$d/$name.crt" -startdate "$start" -enddate "$end" \
            -notext >/dev/null 2>&1
    done
    LAB_CA=$d/ca.crt
}

_lab_configs() {
    local d=$LAB_DIR
    mkdir -p "$d/nginx" "$d/spool"
    chmod 711 "$d/spool"
    cat >"$d/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx/nginx.pid;
error_log $d/nginx/error.log;
user nobody nogroup;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $d/nginx/t1; proxy_temp_path $d/nginx/t2; fastcgi_temp_path $d/nginx/t3;
  uwsgi_temp_path $d/nginx/t4; scgi_temp_path $d/nginx/t5;
  server {
    listen $LAB_S_ADDR:80; listen $LAB_S_ADDR:443 ssl;
    ssl_certificate $d/pki/good.crt; ssl_certificate_key $d/pki/good.key;
    location / { return 200 "Welcome to the lab\n"; }
    location /down { return 503; }
  }
  server {
    listen $LAB_S_ADDR:8443 ssl;
    ssl_certificate $d/pki/old.crt; ssl_certificate_key $d/pki/old.key;
    location / { return 200 "an old certificate\n"; }
  }
}
CONF
    cat >"$d/lab.test.zone" <<'ZONE'
$ORIGIN lab.test.
$TTL 300
@   IN SOA ns1.lab.test. hostmaster.lab.test. 2026112201 3600 900 604800 300
@   IN NS  ns1.lab.test.
ns1 IN A   203.0.113.10
www IN A   203.0.113.10
mx  IN A   203.0.113.10
@   IN MX  10 mx.lab.test.
ZONE
    cat >"$d/nsd.conf" <<CONF
server:
  ip-address: $LAB_S_ADDR
  port: 53
  username: ""
  chroot: ""
  zonesdir: "$d"
  pidfile: "$d/nsd.pid"
  database: ""
  xfrdfile: "$d/xfrd.state"
  zonelistfile: "$d/zone.list"
  logfile: "$d/nsd.log"
remote-control:
  control-enable: no
zone:
  name: lab.test
  zonefile: lab.test.zone
zone:
  name: broken.test
  zonefile: broken.test.zone
CONF
    cat >"$d/smtpd.conf" <<CONF
listen on $LAB_S_ADDR port 25
action "local" mbox
match from any for domain "lab.test" action "local"
CONF
}

# lab_start SERVER: starts one server in the server namespace and waits until it answers.
lab_start() {
    local d=$LAB_DIR
    # `ip netns exec` execs the server, so $! is the server itself (a shell function would
    # leave $! naming a subshell, and stopping that would leave the server running).
    local ns=${LAB}s
    case $1 in
    nginx) ip netns exec "$ns" nginx -p "$d/nginx" -c "$d/nginx/nginx.conf" -g 'daemon off;' >"$d/nginx.out" 2>&1 &
           echo $! >"$d/nginx.pid.lab"; _lab_wait_tcp 80 ;;
    nsd)   ip netns exec "$ns" nsd -d -c "$d/nsd.conf" >"$d/nsd.out" 2>&1 &
           echo $! >"$d/nsd.pid.lab"; _lab_wait_tcp 53 ;;
    # OpenSMTPD keeps its control socket and queue at fixed paths: a private mount namespace
    # gives each lab its own, so parallel labs do not collide.
    smtpd) ip netns exec "$ns" unshare -m sh -c "mount -t tmpfs tmpfs /run && mount --bind '$d/spool' /var/spool/smtpd && exec smtpd -d -f '$d/smtpd.conf'" >"$d/smtpd.out" 2>&1 &
           echo $! >"$d/smtpd.pid.lab"; _lab_wait_tcp 25 ;;
    *) echo "lab_start: unknown server $1" >&2; return 1 ;;
    esac
}

lab_stop() {
    local f=$LAB_DIR/$1.pid.lab
    [ -f "$f" ] || return 0
    kill "$(cat "$f")" 2>/dev/null || true
    local i
    for i in $(seq 100); do kill -0 "$(cat "$f")" 2>/dev/null || break; sleep 0.05; done
    rm -f "$f"
}

# Waits (bounded) until something accepts TCP connections on the server's PORT.
_lab_wait_tcp() {
    local i
    for i in $(seq 100); do
        in_s bash -c "exec 3<>/dev/tcp/$LAB_S_ADDR/$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "lab: nothing listens on $LAB_S_ADDR:$1" >&2
    return 1
}

# lab_up NAME DIR: NAME is a short unique prefix (at most 8 characters), DIR a scratch directory.
lab_up() {
    LAB=$1
    LAB_DIR=$2
    lab_down
    mkdir -p "$LAB_DIR"
    _lab_names
    ip netns add "${LAB}v"
    ip netns add "${LAB}r"
    ip netns add "${LAB}s"
    local ns
    for ns in v r s; do ip -n "${LAB}$ns" link set lo up; done
    _lab_link "${LAB}v" "${LAB}vr" "$LAB_V_ADDR/24" "${LAB}r" "${LAB}rv" "$LAB_R_V_ADDR/24"
    _lab_link "${LAB}r" "${LAB}rs" "$LAB_R_S_ADDR/24" "${LAB}s" "${LAB}sr" "$LAB_S_ADDR/24"
    ip -n "${LAB}v" route add default via "$LAB_R_V_ADDR"
    ip -n "${LAB}s" route add default via "$LAB_R_S_ADDR"
    in_r sysctl -qw net.ipv4.ip_forward=1
    # Routers answer with ICMP errors at full speed, as real ones mostly do for tests.
    in_r sysctl -qw net.ipv4.icmp_ratelimit=0
    in_s sysctl -qw net.ipv4.icmp_ratelimit=0
    _lab_certs
    _lab_configs
    lab_start nginx && lab_start nsd && lab_start smtpd
}

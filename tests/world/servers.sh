# servers.sh: real servers from Debian's packages for the test worlds (sourced, not run):
# nginx (HTTP on 80, HTTPS on 443 with a certificate from the world's own CA, HTTPS on 8443
# with an expired one, /down answering 503), nsd (authoritative for ZONE; broken.test is
# configured without data, so it answers SERVFAIL; anything else is REFUSED) and OpenSMTPD.
# Also the namespace plumbing both worlds share. Needs root.
#
#   srv_setup DIR ZONE WEB_ADDR DNS_ADDR MAIL_ADDR   certificates and configs in DIR; sets SRV_CA
#   srv_start NS DIR SERVER                          SERVER: nginx, nsd or smtpd; waits until it answers
#   srv_stop DIR SERVER
#   ns_link NS1 IF1 ADDR1/LEN NS2 IF2 ADDR2/LEN       a veth pair between two namespaces
#   ns_names NS...                                   resolv.conf and hosts kept inside the world

ns_link() {
    ip link add "$2" type veth peer name "$5"
    ip link set "$2" netns "$1"
    ip link set "$5" netns "$4"
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$4" addr add "$6" dev "$5"
    ip -n "$1" link set "$2" up
    ip -n "$4" link set "$5" up
}

# `ip netns exec` bind-mounts /etc/netns/NS/{resolv.conf,hosts} over the host's: name
# resolution stays inside the world (nothing asks a real resolver, and OpenSMTPD's reverse
# lookup of a client, done before its greeting, ends at once). HOSTS_EXTRA adds lines.
ns_names() {
    local ns
    for ns in "$@"; do
        mkdir -p "/etc/netns/$ns"
        echo "nameserver ${SRV_DNS_ADDR:-127.0.0.1}" >"/etc/netns/$ns/resolv.conf"
        printf '127.0.0.1 localhost\n%s' "${HOSTS_EXTRA:-}" >"/etc/netns/$ns/hosts"
    done
}

# Removes namespaces (and everything still running in them) and their name files.
ns_remove() {
    local ns
    for ns in "$@"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
        rm -rf "/etc/netns/$ns"
    done
}

_srv_certs() {
    local d=$1/pki host=$2
    mkdir -p "$d/ca"
    : >"$d/ca/index.txt"
    echo 1000 >"$d/ca/serial"
    cat >"$d/ca.cnf" <<CNF
[ ca ]
default_ca = world
[ world ]
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
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=parallax-test-ca -days 3650 \
        -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
    local name start end
    for name in good old; do
        openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$host" \
            -addext "subjectAltName=DNS:$host" \
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
    SRV_CA=$d/ca.crt
}

srv_setup() {
    local d=$1 zone=$2 web=$3 dns=$4 mail=$5
    SRV_WEB_ADDR=$web SRV_DNS_ADDR=$dns SRV_MAIL_ADDR=$mail
    mkdir -p "$d/nginx" "$d/spool"
    chmod 711 "$d/spool"
    _srv_certs "$d" "www.$zone"
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
    listen $web:80; listen $web:443 ssl;
    ssl_certificate $d/pki/good.crt; ssl_certificate_key $d/pki/good.key;
    location / { return 200 "Welcome to $zone\n"; }
    location /down { return 503; }
  }
  server {
    listen $web:8443 ssl;
    ssl_certificate $d/pki/old.crt; ssl_certificate_key $d/pki/old.key;
    location / { return 200 "an old certificate\n"; }
  }
}
CONF
    cat >"$d/$zone.zone" <<ZONE
\$ORIGIN $zone.
\$TTL 300
@   IN SOA ns1.$zone. hostmaster.$zone. 2026112201 3600 900 604800 300
@   IN NS  ns1.$zone.
ns1 IN A   $dns
www IN A   $web
mx  IN A   $mail
@   IN MX  10 mx.$zone.
ZONE
    cat >"$d/nsd.conf" <<CONF
server:
  ip-address: $dns
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
  name: $zone
  zonefile: $zone.zone
zone:
  name: broken.test
  zonefile: broken.test.zone
CONF
    cat >"$d/smtpd.conf" <<CONF
listen on $mail port 25
action "local" mbox
match from any for domain "$zone" action "local"
CONF
}

# Waits (bounded) until something in NS accepts TCP connections on ADDR:PORT.
_srv_wait_tcp() {
    local i
    for i in $(seq 100); do
        ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "servers: nothing listens on $2:$3" >&2
    return 1
}

srv_start() {
    local ns=$1 d=$2
    # `ip netns exec` execs the server, so $! is the server itself (a shell function would
    # leave $! naming a subshell, and stopping that would leave the server running).
    case $3 in
    nginx) ip netns exec "$ns" nginx -p "$d/nginx" -c "$d/nginx/nginx.conf" -g 'daemon off;' >"$d/nginx.out" 2>&1 &
           echo $! >"$d/nginx.pid.srv"; _srv_wait_tcp "$ns" "$SRV_WEB_ADDR" 80 ;;
    nsd)   ip netns exec "$ns" nsd -d -c "$d/nsd.conf" >"$d/nsd.out" 2>&1 &
           echo $! >"$d/nsd.pid.srv"; _srv_wait_tcp "$ns" "$SRV_DNS_ADDR" 53 ;;
    # OpenSMTPD keeps its control socket and queue at fixed paths: a private mount namespace
    # gives each world its own, so parallel worlds do not collide.
    # The spool smtpd insists on (/var/spool/smtpd, 0711) is made in the server's own mount
    # namespace, on a tmpfs over /var/spool: a machine where the packaged service never ran
    # has no such directory, and the test must not leave one behind.
    smtpd) ip netns exec "$ns" unshare -m sh -c "mount -t tmpfs tmpfs /run && mount -t tmpfs -o mode=0755 tmpfs /var/spool && mkdir -m 0711 /var/spool/smtpd && mount --bind '$d/spool' /var/spool/smtpd && exec smtpd -d -f '$d/smtpd.conf'" >"$d/smtpd.out" 2>&1 &
           echo $! >"$d/smtpd.pid.srv"; _srv_wait_tcp "$ns" "$SRV_MAIL_ADDR" 25 ;;
    *) echo "srv_start: unknown server $3" >&2; return 1 ;;
    esac
}

srv_stop() {
    local f=$1/$2.pid.srv
    [ -f "$f" ] || return 0
    local pid; pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    local i
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$f"
}

# Stops every server started in DIR.
srv_stop_all() {
    local f
    for f in "$1"/*.pid.srv; do
        [ -f "$f" ] || continue
        srv_stop "$1" "$(basename "$f" .pid.srv)"
    done
}

#!/bin/bash
# spike.sh: one real Kubernetes node on this machine, by hand (feasibility spike).
#
#   tools/k8s/node/spike.sh make-images|certs|cp|containerd|images|kubelet|proxy|status|down|check
#
# Control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler),
# containerd 2.x with its own root/state/sockets, runc (Debian), CNI bridge
# "bazaar0" (10.88.0.0/16) from Debian's containernetworking-plugins, kubelet
# with failCgroupV1: false + cgroupfs, kube-proxy. All state under $S; see
# NOTES.md. Everything listens on 127.0.0.1 except on the pod bridge's own
# address 10.88.0.1: the API server (so pods reach it) and the kubelet API
# (the node's InternalIP; a kubelet refuses a loopback node IP).
set -euo pipefail

S=${SPIKE_DIR:-/tmp/k8s-spike}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BIN=${K8S_BIN:-$ROOT/bin/k8s}
NODE=spike-node
BRIDGE=bazaar0
BRIDGE_IP=10.88.0.1
POD_CIDR=10.88.0.0/16
SVC_CIDR=10.96.0.0/16
ETCD_PORT=23790 ETCD_PEER=23800 API_PORT=16443
# The API server listens on the pod bridge's address (a local-only network),
# not on 127.0.0.1: pods reach it there and through the kubernetes Service.
API_ADDR=$BRIDGE_IP
API=https://$API_ADDR:$API_PORT
CTRD_SOCK=$S/containerd/containerd.sock
export PATH=$BIN:$PATH
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY no_proxy NO_PROXY

log() { echo "[$(date -u +%T)] $*"; }

# start NAME CMD...: runs in its own process group, pid in $S/pids/NAME.
start() {
	local name=$1; shift
	mkdir -p "$S/logs" "$S/pids"
	setsid "$@" >"$S/logs/$name.log" 2>&1 </dev/null &
	echo $! >"$S/pids/$name"
	log "started $name pid $!"
}

waitfor() { # waitfor SECONDS DESCRIPTION CMD...
	local t=$1 what=$2; shift 2
	for ((i = 0; i < t * 4; i++)); do
		if "$@" >/dev/null 2>&1; then log "$what ok after $((i / 4))s"; return 0; fi
		sleep 0.25
	done
	log "TIMEOUT waiting for $what"; return 1
}

cert() { # cert NAME SUBJ EXT(server|client) [SANs]
	local name=$1 subj=$2 kind=$3 san=${4:-}
	openssl ecparam -name prime256v1 -genkey -noout -out "$S/pki/$name.key" 2>/dev/null
	openssl req -new -key "$S/pki/$name.key" -subj "$subj" -out "$S/pki/$name.csr" 2>/dev/null
	{
		echo "basicConstraints=CA:FALSE"
		echo "keyUsage=critical,digitalSignature"
		[ "$kind" = server ] && echo "extendedKeyUsage=serverAuth" || echo "extendedKeyUsage=clientAuth"
		[ -n "$san" ] && echo "subjectAltName=$san"
	} >"$S/pki/$name.ext"
	openssl x509 -req -in "$S/pki/$name.csr" -CA "$S/pki/ca.crt" -CAkey "$S/pki/ca.key" -CAcreateserial \
		-days 2 -extfile "$S/pki/$name.ext" -out "$S/pki/$name.crt" 2>/dev/null
}

kubeconfig() { # kubeconfig NAME CERTNAME
	cat >"$S/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: spike
  cluster: {server: $API, certificate-authority: $S/pki/ca.crt}
users:
- name: $1
  user: {client-certificate: $S/pki/$2.crt, client-key: $S/pki/$2.key}
contexts:
- name: spike
  context: {cluster: spike, user: $1}
current-context: spike
EOF
}

do_certs() {
	mkdir -p "$S/pki"
	openssl ecparam -name prime256v1 -genkey -noout -out "$S/pki/ca.key" 2>/dev/null
	openssl req -x509 -new -key "$S/pki/ca.key" -subj "/CN=k8s-spike-ca" -days 2 -out "$S/pki/ca.crt" 2>/dev/null
	cert apiserver "/CN=kube-apiserver" server \
		"DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$BRIDGE_IP,IP:10.96.0.1"
	cert admin "/O=system:masters/CN=admin" client
	cert kubelet "/O=system:nodes/CN=system:node:$NODE" client
	cert kube-proxy "/CN=system:kube-proxy" client
	cert kcm "/CN=system:kube-controller-manager" client
	cert scheduler "/CN=system:kube-scheduler" client
	openssl ecparam -name prime256v1 -genkey -noout -out "$S/pki/sa.key" 2>/dev/null
	kubeconfig admin admin
	kubeconfig kubelet kubelet
	kubeconfig kube-proxy kube-proxy
	kubeconfig kcm kcm
	kubeconfig scheduler scheduler
	log "certs and kubeconfigs in $S"
}

do_bridge() {
	# The bridge plugin makes bazaar0 if it is missing; made here first
	# because the API server and the kubelet listen on its address.
	if ! ip link show $BRIDGE >/dev/null 2>&1; then
		ip link add $BRIDGE type bridge
		ip addr add $BRIDGE_IP/16 dev $BRIDGE
		ip link set $BRIDGE up
		log "made bridge $BRIDGE $BRIDGE_IP/16"
	fi
}

do_baseline() { # what the host looked like before, for down to compare with
	mkdir -p "$S/baseline"
	[ -f "$S/baseline/sysctl.txt" ] && return 0
	sysctl -n net.ipv4.ip_forward >"$S/baseline/ip_forward"
	sysctl -n net.ipv4.conf.all.route_localnet >"$S/baseline/route_localnet"
	nft list tables >"$S/baseline/nft-tables.txt" 2>/dev/null || true
	iptables-save >"$S/baseline/iptables.txt" 2>/dev/null || true
	touch "$S/baseline/sysctl.txt"
	for d in /run/containerd /var/lib/cni /var/lib/kubelet /var/log/containers /var/log/pods /run/netns; do
		[ -e "$d" ] && echo "$d"
	done >"$S/baseline/paths.txt"
}

do_cp() {
	do_baseline
	do_bridge
	start etcd "$BIN/etcd" --name=spike --data-dir="$S/etcd" \
		--listen-client-urls=http://127.0.0.1:$ETCD_PORT --advertise-client-urls=http://127.0.0.1:$ETCD_PORT \
		--listen-peer-urls=http://127.0.0.1:$ETCD_PEER --initial-advertise-peer-urls=http://127.0.0.1:$ETCD_PEER \
		--initial-cluster=spike=http://127.0.0.1:$ETCD_PEER --unsafe-no-fsync --log-level=warn
	waitfor 60 etcd curl -sf http://127.0.0.1:$ETCD_PORT/health
	do_apiserver
	do_controllers
}

do_apiserver() {
	start kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:$ETCD_PORT \
		--bind-address=$API_ADDR --advertise-address=$API_ADDR --secure-port=$API_PORT \
		--tls-cert-file="$S/pki/apiserver.crt" --tls-private-key-file="$S/pki/apiserver.key" \
		--client-ca-file="$S/pki/ca.crt" \
		--kubelet-client-certificate="$S/pki/admin.crt" --kubelet-client-key="$S/pki/admin.key" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$S/pki/sa.key" --service-account-signing-key-file="$S/pki/sa.key" \
		--service-cluster-ip-range=$SVC_CIDR \
		--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
		--kubelet-preferred-address-types=InternalIP \
		--profiling=false
	waitfor 120 kube-apiserver curlk /readyz
}

do_controllers() {
	start kube-controller-manager "$BIN/kube-controller-manager" \
		--kubeconfig="$S/kcm.kubeconfig" --authentication-kubeconfig="$S/kcm.kubeconfig" \
		--authorization-kubeconfig="$S/kcm.kubeconfig" --authentication-skip-lookup=true \
		--bind-address=127.0.0.1 --secure-port=10257 --leader-elect=false \
		--use-service-account-credentials=true --root-ca-file="$S/pki/ca.crt" \
		--service-account-private-key-file="$S/pki/sa.key" \
		--service-cluster-ip-range=$SVC_CIDR --profiling=false
	start kube-scheduler "$BIN/kube-scheduler" \
		--kubeconfig="$S/scheduler.kubeconfig" --authentication-kubeconfig="$S/scheduler.kubeconfig" \
		--authorization-kubeconfig="$S/scheduler.kubeconfig" --authentication-skip-lookup=true \
		--bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false --profiling=false
	waitfor 60 "default service account" curlk /api/v1/namespaces/default/serviceaccounts/default
}

do_containerd() {
	mkdir -p "$S/containerd" "$S/cni/net.d" "$S/cni/cache" "$S/cni/ipam"
	cat >"$S/containerd/config.toml" <<EOF
version = 3
root = "$S/containerd/root"
state = "$S/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$CTRD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = "$S/containerd/opt"
  # Shim sockets: default /run/containerd/s (at most 42 characters).
  [plugins.'io.containerd.shim.v1.manager']
    socket_dir = "$S/s"
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'registry.k8s.io/pause:3.10.2'
  [plugins.'io.containerd.cri.v1.runtime']
    netns_mounts_under_state_dir = true
    # This machine's root has no CAP_SYS_RESOURCE (bounding set), so runc
    # cannot lower oom_score_adj (pod sandboxes ask for -998): clamp to ours.
    restrict_oom_score_adj = true
    cdi_spec_dirs = []
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '${RUNC:-/usr/sbin/runc}'
          Root = '$S/containerd/runc'
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = '$S/cni/net.d'
      max_conf_num = 1
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
EOF
	cat >"$S/cni/net.d/10-bazaar.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "bazaar",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$S/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "loopback"}
  ]
}
EOF
	do_bridge
	start containerd "$BIN/containerd" --config "$S/containerd/config.toml" --log-level info
	waitfor 30 containerd "$BIN/ctr" --address "$CTRD_SOCK" version
}

# curlk PATH: GET on the API server as admin (no kubectl needed).
curlk() { curl -sf --cacert "$S/pki/ca.crt" --cert "$S/pki/admin.crt" --key "$S/pki/admin.key" "$API$1"; }

# make_images writes $S/images/*.tar with tools/k8s/node/images (no registry,
# no base image): pause (the sandbox image containerd pins), a web server,
# Bazaar's catalog from bin/images, CoreDNS and Dapr's binaries when built.
make_images() {
	local m=$ROOT/tools/k8s/node/images t=$S/images-bin
	mkdir -p "$S/images" "$t"
	(cd "$m" && CGO_ENABLED=0 nice -n 10 go build -o "$t/" ./pause ./web ./imgtool)
	local img=$t/imgtool
	$img bin "$t/pause" registry.k8s.io/pause:3.10.2 "$S/images/pause.tar"
	$img bin "$t/web" bazaar.local/spike-web:v2 "$S/images/web.tar"
	[ -d "$ROOT/bin/images" ] && $img layout "$ROOT/bin/images" catalog bazaar.local/catalog:spike "$S/images/catalog.tar"
	[ -x "$BIN/coredns" ] && $img bin "$BIN/coredns" bazaar.local/coredns:1.13.1 "$S/images/coredns.tar"
	# Dapr's binaries are built with cgo: the image carries the host's libc.
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$t/passwd"
	local libs="/lib/x86_64-linux-gnu/libc.so.6:lib/x86_64-linux-gnu/libc.so.6
		/lib64/ld-linux-x86-64.so.2:lib64/ld-linux-x86-64.so.2 $t/passwd:etc/passwd
		/etc/ssl/certs/ca-certificates.crt:etc/ssl/certs/ca-certificates.crt" b src
	for b in daprd placement sentry scheduler injector operator; do
		src=$ROOT/bin/$b
		[ -x "$src" ] || src=$BIN/$b
		[ -x "$src" ] || { log "no $b binary: no ghcr.io/dapr/$b image"; continue; }
		# shellcheck disable=SC2086 # $libs is a list
		IMG_USER=65532:65532 nice -n 10 $img files ghcr.io/dapr/$b:1.18.0 "$S/images/dapr-$b.tar" /$b "$src:$b" $libs
	done
	ls -la "$S/images"
}

ctr_() { "$BIN/ctr" --address "$CTRD_SOCK" -n k8s.io "$@"; }

do_images() {
	for t in "$S"/images/*.tar; do
		ctr_ images import "$t"
	done
	ctr_ images ls -q
}

do_kubelet() {
	mkdir -p "$S/kubelet" "$S/pod-logs"
	cat >"$S/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $BRIDGE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CTRD_SOCK
imageServiceEndpoint: unix://$CTRD_SOCK
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $S/pki/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [10.96.0.10]
podLogsDir: $S/pod-logs
resolvConf: /etc/resolv.conf
failSwapOn: false
registerNode: true
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
	start kubelet "$BIN/kubelet" --config="$S/kubelet/config.yaml" --kubeconfig="$S/kubelet.kubeconfig" \
		--root-dir="$S/kubelet/root" --cert-dir="$S/kubelet/pki" --hostname-override=$NODE --node-ip=$BRIDGE_IP -v=2
	waitfor 120 "kubelet healthz" curl -sf http://127.0.0.1:10248/healthz
}

do_proxy() {
	cat >"$S/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $S/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $NODE
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: $POD_CIDR
nodePortAddresses: ["127.0.0.1/32"]
conntrack: {maxPerCore: 0}
EOF
	start kube-proxy "$BIN/kube-proxy" --config="$S/kube-proxy.yaml" -v=2
	waitfor 60 "kube-proxy healthz" curl -s http://127.0.0.1:10256/healthz
}

do_status() {
	local k="kubectl --kubeconfig $S/admin.kubeconfig"
	$k get nodes -o wide || true
	$k get pods -A -o wide || true
	for f in "$S"/pids/*; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		printf '%-24s pid %-7s ' "$(basename "$f")" "$p"
		ps -o rss= -p "$p" 2>/dev/null | awk '{printf "rss %.0f MiB\n", $1/1024}' || echo gone
	done
	echo "shims and their containers (pid rss_KiB args):"
	for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $CTRD_SOCK" || true); do
		ps -o pid=,rss=,args= -p "$p" | cut -c1-100
		ps -o pid=,rss=,args= --ppid "$p" | cut -c1-100 | sed 's/^/  /'
	done
}

# clean_iptables removes every KUBE-* and CNI-* chain and the jumps to them
# (the host had no rules before; see baseline), then iptables-nft's tables
# that the baseline did not have, if they are empty.
clean_iptables() {
	local ipt t c
	for ipt in iptables ip6tables; do
		for t in filter nat mangle; do
			"$ipt-save" -t $t 2>/dev/null | grep -E '^-A [A-Z]+ .*-j (KUBE|CNI)-' | sed 's/^-A /-D /' |
				while read -r rule; do eval "$ipt -t $t $rule" || true; done
			for c in $("$ipt-save" -t $t 2>/dev/null | grep -oE '^:(KUBE|CNI)-[^ ]+' | tr -d :); do
				"$ipt" -t $t -F "$c" 2>/dev/null || true
			done
			for c in $("$ipt-save" -t $t 2>/dev/null | grep -oE '^:(KUBE|CNI)-[^ ]+' | tr -d :); do
				"$ipt" -t $t -X "$c" 2>/dev/null || true
			done
		done
	done
	nft list tables 2>/dev/null | while read -r _ fam name; do
		grep -qx "table $fam $name" "$S/baseline/nft-tables.txt" 2>/dev/null && continue
		# empty: nothing but table/chain headers, hook types and braces
		if [ "$(nft list table "$fam" "$name" | grep -cvE '^\s*((table|chain) .*\{|type .*|\}|)$')" = 0 ]; then
			nft delete table "$fam" "$name" && log "deleted empty nft table $fam $name"
		fi
	done
}

do_down() {
	set +e # best effort: every step runs
	local k="kubectl --kubeconfig $S/admin.kubeconfig"
	# Delete pods first so the kubelet tears sandboxes down (CNI DEL: veths, IPAM).
	if [ -f "$S/pids/kubelet" ] && kill -0 "$(cat "$S/pids/kubelet")" 2>/dev/null; then
		$k delete deploy,statefulset,daemonset,replicaset,job --all -A --wait=true --timeout=60s >/dev/null 2>&1 || true
		$k delete pods --all -A --wait=true --timeout=60s >/dev/null 2>&1 || true
	fi
	for n in kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver etcd; do
		[ -f "$S/pids/$n" ] || continue
		p=$(cat "$S/pids/$n")
		kill -TERM -- -"$p" 2>/dev/null || true
		for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
		kill -KILL -- -"$p" 2>/dev/null || true
		rm -f "$S/pids/$n"
		log "stopped $n"
	done
	if [ -S "$CTRD_SOCK" ]; then # stop every task and container left in containerd
		for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s KILL "$t" 2>/dev/null || true; done
		sleep 1
		for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" 2>/dev/null || true; done
		for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" 2>/dev/null || true; done
	fi
	if [ -f "$S/pids/containerd" ]; then
		p=$(cat "$S/pids/containerd")
		kill -TERM -- -"$p" 2>/dev/null || true
		for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
		kill -KILL -- -"$p" 2>/dev/null || true
		rm -f "$S/pids/containerd"
		log "stopped containerd"
	fi
	# Shims run in their own sessions: kill any still serving our containerd.
	for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $CTRD_SOCK" || true); do
		kill -KILL "$p" 2>/dev/null || true
		log "killed shim $p"
	done
	if [ -f "$S/kube-proxy.yaml" ]; then
		"$BIN/kube-proxy" --cleanup --config="$S/kube-proxy.yaml" >"$S/logs/kube-proxy-cleanup.log" 2>&1 || true
	fi
	clean_iptables
	# Mounts under $S (netns, rootfs, shm), deepest first.
	awk -v s="$S" 'index($2, s) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" || true
	done
	ip link show $BRIDGE >/dev/null 2>&1 && ip link del $BRIDGE && log "deleted $BRIDGE"
	# Pod cgroups (cgroupfs driver, every v1 hierarchy and the unified one).
	for d in /sys/fs/cgroup/*/kubepods; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
		[ -d "$d" ] && log "could not remove $d"
	done
	# Paths the kubelet, containerd and libcni write whatever the config says
	# (/var/lib/kubelet/device-plugins, /var/log/containers, /var/lib/cni/results).
	for d in /var/lib/kubelet /var/log/containers /var/log/pods /var/lib/cni /run/containerd /run/netns; do
		[ -e "$d" ] || continue
		grep -qx "$d" "$S/baseline/paths.txt" 2>/dev/null && continue
		rm -rf "$d" && log "removed $d"
	done
	# sysctls the bridge plugin (ip_forward) and kube-proxy (route_localnet) set.
	[ -f "$S/baseline/ip_forward" ] && sysctl -qw net.ipv4.ip_forward="$(cat "$S/baseline/ip_forward")"
	[ -f "$S/baseline/route_localnet" ] && sysctl -qw net.ipv4.conf.all.route_localnet="$(cat "$S/baseline/route_localnet")"
	log "down"
}

do_check() { # what is left of the node on the host
	set +e
	echo "processes:"; pgrep -af "$S|$BIN/(kube|etcd|containerd)" | cut -c1-120 || true
	echo "mounts:"; grep -c "$S" /proc/mounts || true
	echo "links:"; ip -br link | grep -E "$BRIDGE|veth" || true
	echo "iptables:"; { iptables-save; ip6tables-save; } 2>/dev/null | grep -ciE "kube|cni" || true
	echo "nft tables:"; nft list tables 2>/dev/null || true
	echo "cgroups:"; ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null || true
	echo "paths:"; ls -d /var/lib/kubelet /var/log/containers /var/log/pods /var/lib/cni /run/containerd /run/netns 2>/dev/null || true
	echo "sysctl:"; sysctl net.ipv4.ip_forward net.ipv4.conf.all.route_localnet
}

case "${1:-}" in
certs) do_certs ;;
cp) do_cp ;;
apiserver) do_apiserver ;;
containerd) do_containerd ;;
images) do_images ;;
make-images) make_images ;;
kubelet) do_kubelet ;;
proxy) do_proxy ;;
status) do_status ;;
down) do_down ;;
check) do_check ;;
*) echo "usage: $0 make-images|certs|cp|apiserver|containerd|images|kubelet|proxy|status|down|check" >&2; exit 2 ;;
esac

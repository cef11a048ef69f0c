#!/usr/bin/env bash
# Installs every Debian package dataline's build, tests, benchmarks and demo
# need. Idempotent: asks dpkg first and calls apt-get only for what is
# missing. `--if-missing` is what `make test`/`make run` use: identical,
# but silent when nothing is missing.
set -euo pipefail

PKGS=(
  # toolchain and BPF
  build-essential pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
  linux-libc-dev
  # libraries
  liburing-dev libnl-3-dev libnl-route-3-dev libevent-dev libssl-dev
  libopus-dev libsrtp2-dev libasound2-dev   # the handset media engine
  espeak-ng         # test speech for the media tests
  libsqlite3-dev sqlite3 libjansson-dev libcmocka-dev libsystemd-dev
  libclang-rt-14-dev
  # network tools for tests (namespaces, shaping, peers)
  iproute2 iputils-ping netcat-openbsd curl jq openssl procps psmisc
  nftables          # NAT (masquerade) in the texts tests' router namespace
  # test peers and mocks
  sip-tester baresip-core kamailio kamailio-sqlite-modules kamailio-tls-modules
  python3 python3-dbusmock python3-dbus python3-gi dbus
  tmux              # the "send by carrier SMS or quit?" question on a terminal (handset_fallback)
  util-linux        # nsenter (handset tests: a namespace without remounting /sys)
  # benchmarks
  gnuplot-nox
  libosip2-dev      # SIP parser contender in tests/bench/sip_parse.sh
)

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  [ "${1:-}" = --if-missing ] || echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Kamailio's package enables a system service; the tests and benchmarks
# start their own instances on private ports, so keep the system one down.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now kamailio >/dev/null 2>&1 || true
fi
echo "install-deps: done"

#!/usr/bin/env bash
# Installs the Debian packages the test suite runs against (real servers, not mocks).
# Idempotent: installs only what is missing. Called by test/global-setup.ts; safe to run by hand.
set -euo pipefail
declare -A need=(
  [etcd]=etcd-server [etcdctl]=etcd-client [dnsmasq]=dnsmasq
  [/usr/lib/postgresql/15/bin/initdb]=postgresql [avahi-daemon]=avahi-daemon
  [avahi-browse]=avahi-utils [dbus-daemon]=dbus [nginx]=nginx [serf]=serf
  # docker-compose: `docker-compose config` validates the compose set-ups (no engine needed)
  [docker-compose]=docker-compose
  [chromium]=chromium [prometheus]=prometheus [ip]=iproute2 [tc]=iproute2 [nft]=nftables [systemd-analyze]=systemd
  # delay/jitter without sch_netem: test/support/netdelay.c over iptables NFQUEUE
  [iptables]=iptables [gcc]=gcc [/usr/include/stdio.h]=libc6-dev [/usr/include/libnetfilter_queue/libnetfilter_queue.h]=libnetfilter-queue-dev
)
missing=()
for bin in "${!need[@]}"; do
  if [[ "$bin" == /* ]]; then [ -e "$bin" ] && continue; else command -v "$bin" >/dev/null 2>&1 && continue; fi
  missing+=("${need[$bin]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps Debian from starting the packaged services: tests start their own on loopback.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

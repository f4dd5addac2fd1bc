#!/usr/bin/env bash
# Installs the system packages the test suite drives for real: slapd + ldap-utils (LDAP sync), gnupg
# (OpenPGP interoperability) and Debian's chromium (browser tests). Only as root with apt; elsewhere the
# tests that need them skip with a message naming the package (or fail when DIRECTORY_REQUIRE_ALL=1).
set -euo pipefail
need=()
[ -x /usr/sbin/slapd ] || need+=(slapd)
command -v ldapsearch >/dev/null || need+=(ldap-utils)
command -v gpg >/dev/null || need+=(gnupg)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: not root with apt; install: ${need[*]} (the tests that need them will skip)" >&2
  exit 0
fi
# Keep the packaged slapd from starting a system instance: the tests start their own.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
rm -f /usr/sbin/policy-rc.d

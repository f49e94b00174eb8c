#!/usr/bin/env bash
# Installs the real SMTP peers that internal/compat's interoperability tests
# drive (their recipes are in the project's shared PEERS.md): Postfix
# (smtpd, smtp/lmtp clients, smtp-source, smtp-sink), Cyrus SASL tools, swaks, msmtp, HAProxy, aiosmtpd,
# fetchmail (the customer side of ETRN and ODMR), curl, Dovecot's LMTP
# server (dovecot-core, dovecot-lmtpd), mutt and GNU SASL's gsasl (SCRAM
# and SCRAM-PLUS clients), Exim 4 (unpacked beside Postfix, see below) and
# openssl, from Debian's
# packages, plus Net::SSLeay for swaks's TLS and Cyrus SASL's
# PLAIN/LOGIN/CRAM-MD5 modules for Postfix (only Recommends); and the
# DNSSEC chain of the DANE cells: NSD (authoritative), Unbound (validating
# resolver) and ldns's tools (ldns-keygen, ldns-signzone, ldns-key2ds),
# with postfix-mta-sts-resolver for Postfix's MTA-STS; and Dovecot's LMTP
# server, the delivery end of the README's deployment.
#
# Idempotent and non-interactive: when everything is present it only prints
# the versions. Postfix is preseeded with "No configuration", so no system
# Postfix is configured or started; the policy below keeps NSD's and
# Unbound's init scripts from starting theirs; the tests run private
# instances.
set -euo pipefail

# package -> a file it installs (or perl:Module, or dpkg:package), to tell
# whether it is there.
declare -A probe=(
  [postfix]=/usr/sbin/postfix
  [sasl2-bin]=/usr/sbin/saslpasswd2
  [swaks]=/usr/bin/swaks
  [msmtp]=/usr/bin/msmtp
  [haproxy]=/usr/sbin/haproxy
  [python3-aiosmtpd]=/usr/lib/python3/dist-packages/aiosmtpd/__init__.py
  [openssl]=/usr/bin/openssl
  [fetchmail]=/usr/bin/fetchmail
  [libnet-ssleay-perl]=perl:Net::SSLeay
  [libsasl2-modules]=dpkg:libsasl2-modules
  [nsd]=/usr/sbin/nsd
  [unbound]=/usr/sbin/unbound
  [ldnsutils]=/usr/bin/ldns-signzone
  [postfix-mta-sts-resolver]=/usr/bin/mta-sts-daemon
  [curl]=/usr/bin/curl
  [dovecot-core]=/usr/sbin/dovecot
  [dovecot-lmtpd]=/usr/lib/dovecot/lmtp
  [mutt]=/usr/bin/mutt
  [gsasl]=/usr/bin/gsasl
)

missing=()
have() {
  case ${probe[$1]} in
    perl:*) perl -M"${probe[$1]#perl:}" -e1 2>/dev/null ;;
    dpkg:*) dpkg-query -W -f='${Status}' "${probe[$1]#dpkg:}" 2>/dev/null | grep -q 'install ok installed' ;;
    *) [ -e "${probe[$1]}" ] ;;
  esac
}
for pkg in "${!probe[@]}"; do
  have "$pkg" || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "install-peers: no apt-get here; missing ${missing[*]} (their tests will skip)" >&2
    exit 0
  fi
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
  echo "install-peers: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packages' init scripts from starting system daemons (HAProxy,
  # NSD, Unbound, Dovecot and the MTA-STS daemon would): the tests run private
  # instances. Only when no policy exists.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    trap '$sudo rm -f "$policy"' EXIT
  fi
  $sudo apt-get update -q </dev/null
  echo 'postfix postfix/main_mailer_type select No configuration' | $sudo debconf-set-selections
  $sudo apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" </dev/null
fi

# Exim conflicts with Postfix as a Debian package (both provide
# mail-transport-agent): its packages are downloaded and unpacked into a
# directory of their own, and the tests run it from there with a
# configuration of their own (exim -C) in a mount namespace that has its
# Debian-exim user. Its libraries conflict with nothing and are installed
# (--no-upgrade: only the missing ones).
exim_root=/opt/postwire-exim
if [ ! -x "$exim_root/usr/sbin/exim4" ] && command -v apt-get >/dev/null; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
  echo "install-peers: unpacking Exim into $exim_root"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q </dev/null
  libs=$(apt-cache depends exim4-daemon-heavy | awk '$1 ~ /Depends:/ {print $2}' | grep -v -e '^<' -e '^exim4' -e '^debconf' | sort -u)
  # shellcheck disable=SC2086 # one word per package
  $sudo apt-get install -y -q --no-upgrade $libs </dev/null
  debs=$(mktemp -d)
  chmod 777 "$debs" # apt-get download runs as _apt
  (cd "$debs" && apt-get download -q exim4-daemon-heavy exim4-base exim4-config </dev/null)
  $sudo mkdir -p "$exim_root"
  for deb in "$debs"/*.deb; do $sudo dpkg-deb -x "$deb" "$exim_root"; done
  dpkg-deb -f "$debs"/exim4-daemon-heavy_*.deb Version | $sudo tee "$exim_root/VERSION" >/dev/null
  rm -rf "$debs"
fi

# first line of a command's output (read whole, so no SIGPIPE under pipefail)
first() { local out; out=$("$@" 2>&1) || true; printf '%s' "${out%%$'\n'*}"; }
ver() { printf '%-18s %s\n' "$1" "${2:-?}"; }
ver postfix "$(postconf -d -h mail_version 2>/dev/null || echo '?')"
ver swaks "$(first swaks --version)"
ver msmtp "$(first msmtp --version)"
ver haproxy "$(first haproxy -v)"
ver aiosmtpd "$(/usr/bin/python3 -c 'import aiosmtpd; print(aiosmtpd.__version__)' 2>/dev/null || echo '?')"
ver python3 "$(/usr/bin/python3 --version 2>&1)"
ver fetchmail "$(dpkg-query -W -f='${Version}' fetchmail 2>/dev/null || echo '?')"
ver openssl "$(openssl version 2>/dev/null || echo '?')"
ver saslpasswd2 "$(dpkg-query -W -f='${Version}' sasl2-bin 2>/dev/null || echo '?')"
ver nsd "$(first nsd -v)"
ver unbound "$(unbound -V 2>/dev/null | sed -n 's/^Version //p')"
ver ldnsutils "$(dpkg-query -W -f='${Version}' ldnsutils 2>/dev/null || echo '?')"
ver curl "$(first curl --version)"
ver dovecot "$(first dovecot --version)"
ver mutt "$(first mutt -v)"
ver gsasl "$(first gsasl --version)"
ver exim "$(cat "$exim_root/VERSION" 2>/dev/null || echo '?') in $exim_root"
ver mta-sts-daemon "$(dpkg-query -W -f='${Version}' postfix-mta-sts-resolver 2>/dev/null || echo '?')"

# nodemailer (the pool benchmark's Node.js peer), from the npm registry,
# into internal/compat/testdata/node/node_modules (not committed); skipped
# without Node.js, and then its benchmark cells skip.
node_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/testdata/node"
if command -v node >/dev/null && command -v npm >/dev/null; then
  if [ ! -f "$node_dir/node_modules/nodemailer/package.json" ]; then
    npm install --prefix "$node_dir" --no-audit --no-fund --silent </dev/null ||
      echo "install-peers: npm install nodemailer failed (its benchmark cells will skip)" >&2
  fi
  ver node "$(node --version) nodemailer $(node -p "require('$node_dir/node_modules/nodemailer/package.json').version" 2>/dev/null || echo '?')"
fi

#!/bin/sh
# civicgrid's entrypoint for the eclipse-mosquitto 2 image (docker compose and the Helm chart).
#
# The password and ACL files are generated from the device registry by the civicgrid image's
# `civicgrid-deploy broker-accounts`, into a directory shared with this container ($ACCOUNTS_DIR). This
# script copies them, and the TLS certificate and key ($TLS_DIR/tls.crt, tls.key), to where mosquitto.conf
# reads them, readable by the user Mosquitto drops to; starts Mosquitto; and copies them again and sends it
# SIGHUP (Mosquitto re-reads its password and ACL files) whenever they change. A new device's login works
# within a few seconds of its registration.
set -eu
src=${ACCOUNTS_DIR:-/civicgrid/accounts}
tls=${TLS_DIR:-/run/secrets/mqtt-tls}
conf=${MOSQUITTO_CONF:-/mosquitto/config/mosquitto.conf}
poll=${POLL_SECONDS:-3}

owned() {  # owned SRC DST: copy SRC to DST (mode 0600), owned by Mosquitto's user when we are root
  cp "$1" "$2.tmp"
  chmod 0600 "$2.tmp"
  if [ "$(id -u)" = 0 ]; then chown mosquitto:mosquitto "$2.tmp"; fi
  mv "$2.tmp" "$2"
}
install_accounts() { owned "$src/passwd" /mosquitto/accounts/passwd; owned "$src/acl" /mosquitto/accounts/acl; }
changed() { ! cmp -s "$src/passwd" /mosquitto/accounts/passwd || ! cmp -s "$src/acl" /mosquitto/accounts/acl; }

mkdir -p /mosquitto/accounts /mosquitto/certs /mosquitto/data
if [ "$(id -u)" = 0 ]; then chown mosquitto:mosquitto /mosquitto/data; fi
owned "$tls/tls.crt" /mosquitto/certs/tls.crt
owned "$tls/tls.key" /mosquitto/certs/tls.key
until [ -s "$src/passwd" ] && [ -s "$src/acl" ]; do
  echo "mosquitto: waiting for $src/passwd and $src/acl (civicgrid-deploy broker-accounts)"
  sleep 2
done
install_accounts

mosquitto -c "$conf" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit $?' TERM INT
while kill -0 "$pid" 2>/dev/null; do
  sleep "$poll" &
  wait $! || true
  if changed; then
    install_accounts
    kill -HUP "$pid"
    echo "mosquitto: accounts changed, reloaded"
  fi
done
wait "$pid"

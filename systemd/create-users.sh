#!/bin/sh
# Creates the users, groups and directories the services run with, the way upstream's Debian
# packages do (aziot-identity-service and aziot-edge preinst/postinst). Idempotent.
# DRY_RUN=1 prints the commands instead of running them.
set -eu

run() {
  if [ "${DRY_RUN:-0}" = 1 ]; then
    echo "$*"
  else
    "$@"
  fi
}

has_group() { getent group "$1" >/dev/null 2>&1; }
has_user() { getent passwd "$1" >/dev/null 2>&1; }

# service_user NAME DESCRIPTION HOME [EXTRA GROUPS...]
service_user() {
  name=$1 description=$2 home=$3
  shift 3
  has_group "$name" || run groupadd -r "$name"
  if ! has_user "$name"; then
    run useradd -r -g "$name" -c "$description" -s /sbin/nologin -d "$home" "$name"
    for group in "$@"; do
      run usermod -aG "$group" "$name"
    done
  fi
}

# Identity service: clients of a daemon must be in its group (sockets are 0660).
service_user aziotks 'aziot-keyd user' /var/lib/aziot/keyd
service_user aziottpm 'aziot-tpmd user' /var/lib/aziot/tpmd
service_user aziotcs 'aziot-certd user' /var/lib/aziot/certd aziotks
service_user aziotid 'aziot-identityd user' /var/lib/aziot/identityd aziotcs aziotks aziottpm

for svc in keyd:aziotks certd:aziotcs identityd:aziotid tpmd:aziottpm; do
  dir=${svc%%:*} user=${svc##*:}
  run mkdir -p "/var/lib/aziot/$dir" "/etc/aziot/$dir/config.d"
  run chown "$user:$user" "/var/lib/aziot/$dir" "/etc/aziot/$dir/config.d"
  run chmod 0700 "/var/lib/aziot/$dir" "/etc/aziot/$dir/config.d"
done

# The TPM device (/dev/tpmrm0) belongs to group tss: tpmd and (with tpm_tcti) keyd open it.
if has_group tss; then
  run usermod -aG tss aziottpm
  run usermod -aG tss aziotks
fi

# IoT Edge: the daemon's user, and the fixed uids the edge agent and hub containers run as.
has_group iotedge || run groupadd -r iotedge
has_user iotedge || run useradd -r -g iotedge -c 'iotedge user' -s /sbin/nologin -d /var/lib/aziot/edged iotedge
has_user edgeagentuser || run useradd -r -g iotedge -c 'edgeAgent user' -s /sbin/nologin -u 13622 edgeagentuser || true
has_user edgehubuser || run useradd -r -c 'edgeHub user' -s /sbin/nologin -u 13623 edgehubuser || true
for group in docker systemd-journal aziotcs aziotks aziotid; do
  if has_group "$group" || [ "${DRY_RUN:-0}" = 1 ]; then
    run usermod -aG "$group" iotedge
  fi
done
# Administrators may use the management socket.
for admin_group in admin sudo; do
  for u in $(getent group "$admin_group" 2>/dev/null | sed -e 's/^.*://' -e 's/,/ /g'); do
    run usermod -aG iotedge "$u" >/dev/null 2>&1 || true
  done
done

run mkdir -p /var/lib/aziot/edged /var/log/aziot/edged /etc/aziot/edged/config.d
run chown iotedge:iotedge /var/lib/aziot/edged /var/log/aziot/edged /etc/aziot/edged/config.d
run chmod 0755 /var/lib/aziot/edged /var/log/aziot/edged
run chmod 0700 /etc/aziot/edged/config.d

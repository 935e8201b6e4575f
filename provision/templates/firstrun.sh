#!/bin/bash
# hubsense first boot for node {{NODE}} (site {{SITE}}), credentials generation {{GENERATION}}.
# Raspberry Pi OS runs this once, as root, from cmdline.txt (see INSTALL.md), like the
# first-boot script Raspberry Pi Imager writes. It installs the node's files, removes
# the broker secret from the boot partition (FAT: anyone holding the card can read it)
# and removes itself from cmdline.txt.
set -euo pipefail

BOOT=/boot/firmware
[ -d "$BOOT" ] || BOOT=/boot
SRC="$BOOT/hubsense"
ETC="{{ETC_DIR}}"

if ! id hubsense >/dev/null 2>&1; then
    useradd --system --home-dir "{{STATE_DIR}}" --shell /usr/sbin/nologin hubsense
fi
for group in gpio bluetooth; do
    if getent group "$group" >/dev/null; then usermod -a -G "$group" hubsense; fi
done

install -d -m 0750 -o root -g hubsense "$ETC"
install -m 0644 "$SRC/node.yaml" "$ETC/node.yaml"
install -m 0644 "$SRC/ca.pem" "$ETC/ca.pem"
if [ -f "$SRC/mqtt-password" ]; then
    install -m 0400 -o hubsense -g hubsense "$SRC/mqtt-password" "$ETC/mqtt-password"
    shred -u "$SRC/mqtt-password" 2>/dev/null || rm -f "$SRC/mqtt-password"
fi

install -m 0644 "$SRC/hubsense-edge.service" /etc/systemd/system/hubsense-edge.service
install -m 0644 "$SRC/hubsense-install.service" /etc/systemd/system/hubsense-install.service
install -d -m 0755 /etc/systemd/system/hubsense-edge.service.d
install -m 0644 "$SRC/hubsense-edge-after-install.conf" \
    /etc/systemd/system/hubsense-edge.service.d/after-install.conf
systemctl enable hubsense-install.service hubsense-edge.service

# Run once: take our options out of the kernel command line again.
sed -i -e 's| systemd.run=[^ ]*hubsense/firstrun.sh||' \
       -e 's| systemd.run_success_action=reboot||' \
       -e 's| systemd.unit=kernel-command-line.target||' "$BOOT/cmdline.txt"
exit 0

# shellcheck shell=bash
# SocketCAN on the host itself: use vcan interfaces that exist, or create them.
# Requires common.sh.

# vr_as_root CMD...: run CMD as root (directly, or through passwordless sudo).
vr_as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

# vr_native_ifaces_exist: true when every wanted interface exists on the host.
vr_native_ifaces_exist() {
    local i
    for i in $(vr_ifaces); do [ -e "/sys/class/net/$i" ] || return 1; done
}

# vr_native_isotp: true when the host kernel has CAN ISO-TP (loaded, built in, or loadable).
vr_native_isotp() {
    [ -d /sys/module/can_isotp ] && return 0
    vr_as_root "$(vr_sbin modprobe || echo modprobe)" -q can-isotp 2>/dev/null && return 0
    vr_have modinfo && "$(vr_sbin modinfo)" can-isotp >/dev/null 2>&1
}

# vr_native_setup: make every wanted interface exist and be up (MTU VCAN_MTU, default 72
# = CAN FD, set on the ones created here). Fails without side effects worth undoing when
# the kernel has no vcan.
vr_native_setup() {
    local ip modprobe i
    ip=$(vr_sbin ip) || return 1
    modprobe=$(vr_sbin modprobe || echo modprobe)
    if ! vr_native_ifaces_exist; then
        vr_as_root "$modprobe" -q vcan 2>/dev/null || true
        vr_as_root "$modprobe" -q can-raw 2>/dev/null || true
        vr_as_root "$modprobe" -q can-bcm 2>/dev/null || true
        for i in $(vr_ifaces); do
            [ -e "/sys/class/net/$i" ] && continue
            vr_as_root "$ip" link add dev "$i" type vcan 2>/dev/null || return 1
            if [ -n "${VCAN_MTU-72}" ]; then
                vr_as_root "$ip" link set "$i" mtu "${VCAN_MTU-72}" || vr_say "warning: cannot set mtu ${VCAN_MTU-72} on $i"
            fi
        done
    fi
    local mtu
    for i in $(vr_ifaces); do
        if ! "$ip" link show "$i" 2>/dev/null | grep -q '[<,]UP[,>]'; then
            vr_as_root "$ip" link set "$i" up || return 1
        fi
        # An interface that was there before keeps its MTU (changing it needs it down).
        mtu=$(cat "/sys/class/net/$i/mtu" 2>/dev/null || true)
        if [ -n "${VCAN_MTU-72}" ] && [ -n "$mtu" ] && [ "$mtu" != "${VCAN_MTU-72}" ]; then
            vr_say "warning: $i has MTU $mtu, not ${VCAN_MTU-72} (CAN FD needs 72: ip link set $i down; ip link set $i mtu 72 up)"
        fi
    done
}

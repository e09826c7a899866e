# shellcheck shell=bash
# Shared helpers for scripts/setup, scripts/vcan-run and scripts/vm-shell.
# Source it; it defines paths and small functions and runs nothing else.

# Paths of this checkout (the one the scripts live in, not the caller's cwd).
VR_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VR_REPO_DIR="$(cd "$VR_SCRIPTS_DIR/.." && pwd)"
VR_VM_DIR="$VR_REPO_DIR/vm"                 # initramfs sources (tracked)
VR_CACHE_DIR="$VR_VM_DIR/cache"             # build products (git-ignored)

# Exit codes of vcan-run and vm-shell, besides the command's own status.
VR_EXIT_SKIP=77      # no SocketCAN here and no VM possible: callers treat as "skipped"
VR_EXIT_ERROR=125    # vcan-run itself failed (VM did not boot, bad usage, ...)

VR_PROG="${VR_PROG:-$(basename "$0")}"

# vr_say MSG...: one progress/diagnostic line on stderr.
vr_say() { printf '%s: %s\n' "$VR_PROG" "$*" >&2; }

# vr_debug MSG...: like vr_say, only when VCAN_VM_DEBUG=1.
vr_debug() { if [ "${VCAN_VM_DEBUG:-0}" = 1 ]; then vr_say "debug: $*"; fi; }

# vr_die MSG...: print and exit with VR_EXIT_ERROR.
vr_die() { vr_say "error: $*"; exit "$VR_EXIT_ERROR"; }

# vr_skip REASON: print the documented SKIP line and exit 77.
vr_skip() { echo "SKIP: no SocketCAN and no VM ($*)" >&2; exit "$VR_EXIT_SKIP"; }

# vr_have CMD: true when CMD is on PATH (or in the sbin dirs a non-root PATH may lack).
vr_have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

# vr_sbin CMD: print a runnable path for CMD, looking in the sbin dirs as well.
vr_sbin() {
    if command -v "$1" 2>/dev/null; then return 0; fi
    local d
    for d in /usr/sbin /sbin; do
        if [ -x "$d/$1" ]; then echo "$d/$1"; return 0; fi
    done
    return 1
}

# vr_ifaces: the interface names wanted (VCAN_IFACES, default vcan0), one per line.
vr_ifaces() {
    local i
    for i in ${VCAN_IFACES:-vcan0}; do
        case "$i" in
            *[!A-Za-z0-9_.-]*|'') vr_die "bad interface name in VCAN_IFACES: '$i'" ;;
        esac
        echo "$i"
    done
}

# vr_sq STRING: STRING quoted for any POSIX sh (busybox sh in the VM reads these).
vr_sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

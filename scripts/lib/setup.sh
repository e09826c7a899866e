# shellcheck shell=bash
# Steps of scripts/setup. Each one is idempotent, prints one line when it acts and
# nothing when there is nothing to do. Requires common.sh (and vm-image.sh, native.sh).

# Debian packages the scripts and tests need.
VR_APT_PACKAGES=(
    qemu-system-x86   # the VM, where the kernel has no SocketCAN
    busybox-static    # the VM's initramfs
    cpio kmod xz-utils # building the initramfs / kernel image
    can-utils         # cansend, candump, isotpsend, isotprecv
    iproute2          # ip link add ... type vcan
    util-linux        # setsid, used in the VM
    mscgen            # scripts/demo: the sequence diagram of the run as a PNG
    libssl-dev        # swift build: libcrypto's P-256 arithmetic for SPAKE2+ (target CLibCrypto)
    pkgconf           # swift build: finds libcrypto (pkg-config name libcrypto)
    libsocketcan-dev  # swift build: CAN controller setup and state (target CSocketCAN; runtime libsocketcan2)
    libcurl4-openssl-dev # swift build -c release: spaak-phone links Foundation statically; its FoundationNetworking needs -lcurl
    chromium chromium-driver # tests/api: the customer portal in a real browser (Selenium)
    wrk               # scripts/bench api: HTTP load generator
    postgresql        # the VOS service's database for a fleet (scripts/pgtemp: throw-away clusters for tests, scripts/fleet)
)

# vr_apt_missing PKG...: print the packages not installed (one dpkg-query for all).
vr_apt_missing() {
    local installed p
    installed=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null |
        awk '$NF == "installed" && $(NF-1) == "ok" { print $1 }')
    for p in "$@"; do
        grep -qx -- "$p" <<<"$installed" || echo "$p"
    done
}

# vr_setup_apt: apt-get install whatever of VR_APT_PACKAGES is missing; runs
# apt-get update first when the lists are stale (install failed) and retries.
vr_setup_apt() {
    local pkgs=() p
    for p in "${VR_APT_PACKAGES[@]}"; do pkgs+=("$p"); done
    local missing
    missing=$(vr_apt_missing "${pkgs[@]}" | tr '\n' ' ')
    [ -n "$missing" ] || return 0
    vr_say "apt-get install $missing"
    local log
    log=$(mktemp)
    # shellcheck disable=SC2086
    if ! vr_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends $missing >"$log" 2>&1; then
        vr_say "apt-get update (package lists stale or missing)"
        # shellcheck disable=SC2086
        if ! { vr_as_root apt-get update -q >"$log" 2>&1 &&
            vr_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends $missing >"$log" 2>&1; }; then
            tail -n 20 "$log" >&2
            rm -f "$log"
            vr_die "apt-get install failed"
        fi
    fi
    rm -f "$log"
}

# vr_setup_vm_image: the VM kernel package (re-downloaded when linux-image-amd64 moved to
# another version) and the kernel + initramfs built from it. Skipped where the host has
# SocketCAN itself, unless VCAN_MODE=vm.
vr_setup_vm_image() {
    if [ "${VCAN_MODE:-auto}" != vm ] && vr_native_setup && vr_native_isotp; then
        return 0
    fi
    local want="" have deb
    deb=$(vr_kernel_deb)
    have=$(basename "$deb")
    # Ask apt (slow: ~1 s, more on a busy machine) only without a cached kernel, or when
    # the package lists changed since it was checked.
    if [ -z "$deb" ] || [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -newer "$deb" 2>/dev/null | head -n 1)" ]; then
        want=$(vr_kernel_pkg_name || true)
        if [ -n "$deb" ]; then touch "$deb"; fi
    fi
    if [ -n "$want" ] && [ "${have%%_*}" != "$want" ]; then
        vr_say "apt-get download $want (kernel for the VM, into vm/cache)"
        vr_kernel_download "$want" || vr_die "cannot download $want"
    elif [ -z "$have" ]; then
        vr_die "no kernel package known for $VR_KERNEL_META"
    fi
    if ! vr_image_fresh; then
        vr_say "building vm/cache/vmlinux and initramfs.cpio"
        vr_image_build || vr_die "cannot build the VM image"
    fi
}

# vr_setup_venv: <project>/.venv with scripts/requirements.txt installed (pip runs only
# when the requirements changed since the last install).
vr_setup_venv() {
    local venv="$VR_REPO_DIR/.venv" req="$VR_SCRIPTS_DIR/requirements.txt" sum
    sum=$(sha256sum "$req" | cut -c1-16)
    if [ ! -x "$venv/bin/python" ]; then
        local py
        py=$(command -v python3) || vr_die "no python3 on PATH"
        vr_say "creating .venv with $($py -V 2>&1)"
        "$py" -m venv "$venv" || vr_die "python3 -m venv failed"
    fi
    [ "$(cat "$venv/.requirements.sha" 2>/dev/null)" = "$sum" ] && return 0
    vr_say "pip install -r scripts/requirements.txt into .venv"
    local log
    log=$(mktemp)
    if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -f "$log"
        vr_die "pip install failed"
    fi
    rm -f "$log"
    echo "$sum" >"$venv/.requirements.sha"
}

# shellcheck shell=bash
# Kernel + initramfs for the vcan-run VM, cached under vm/cache/.
#
#   vm/cache/linux-image-*.deb  the Debian kernel package (apt-get download)
#   vm/cache/vmlinux            its kernel, decompressed (boots via PVH, ~2x faster)
#   vm/cache/initramfs.cpio     busybox-static + the modules of vm/modules (loaded at boot)
#                               and vm/modules-controllers (loaded on demand) + vm/init
#   vm/cache/stamp              hash of the inputs of the two files above
#
# Requires common.sh. Nothing here needs root except apt-get.

VR_KERNEL_META="${VCAN_VM_KERNEL_PKG:-linux-image-amd64}"

# vr_apt_get ARGS...: apt-get, quiet and non-interactive; as root, downloads without
# the _apt sandbox user (the cache dir is not readable by it).
vr_apt_get() {
    local sandbox=()
    if [ "$(id -u)" = 0 ]; then sandbox=(-o APT::Sandbox::User=root); fi
    DEBIAN_FRONTEND=noninteractive apt-get -q -y "${sandbox[@]}" "$@"
}

# vr_kernel_pkg_name: the versioned package the meta package depends on
# (e.g. linux-image-6.1.0-56-amd64). Runs apt-get update once if the lists don't know it.
vr_kernel_pkg_name() {
    local name
    name=$(apt-cache depends "$VR_KERNEL_META" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
    if [ -z "$name" ]; then
        vr_apt_get update >/dev/null 2>&1 || true
        name=$(apt-cache depends "$VR_KERNEL_META" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
    fi
    [ -n "$name" ] && echo "$name"
}

# vr_kernel_deb: path of the cached kernel package, newest first; empty if none.
vr_kernel_deb() {
    local debs
    debs=$(ls -1 "$VR_CACHE_DIR"/linux-image-*.deb 2>/dev/null | sort -V | tail -n 1)
    echo "$debs"
}

# vr_kernel_download [PKG]: apt-get download PKG (default: what the meta package wants)
# into vm/cache/, replacing older kernel packages there. Prints nothing on success.
vr_kernel_download() {
    local pkg="${1:-}"
    [ -n "$pkg" ] || pkg=$(vr_kernel_pkg_name) || return 1
    [ -n "$pkg" ] || return 1
    mkdir -p "$VR_CACHE_DIR"
    local dl
    dl=$(mktemp -d "$VR_CACHE_DIR/dl.XXXXXX")
    if ! (cd "$dl" && vr_apt_get download "$pkg" >/dev/null 2>&1); then
        # stale lists: the version they name may be gone from the mirror
        vr_apt_get update >/dev/null 2>&1 || true
        (cd "$dl" && vr_apt_get download "$pkg" >/dev/null 2>&1) || { rm -rf "$dl"; return 1; }
    fi
    rm -f "$VR_CACHE_DIR"/linux-image-*.deb
    mv "$dl"/*.deb "$VR_CACHE_DIR"/
    rmdir "$dl"
}

# vr_image_inputs_hash: hash of everything the kernel/initramfs are built from.
vr_image_inputs_hash() {
    local bb
    bb=$(command -v busybox 2>/dev/null || echo /bin/busybox)
    {
        basename "$(vr_kernel_deb)"
        cat "$VR_VM_DIR/init" "$VR_VM_DIR/modules" "$VR_VM_DIR/modules-controllers" "$VR_SCRIPTS_DIR/lib/vm-image.sh"
        stat -L -c '%s %Y' "$bb" 2>/dev/null
    } | sha256sum | cut -c1-16
}

# vr_image_fresh: true when vm/cache holds a kernel + initramfs built from the current inputs.
vr_image_fresh() {
    [ -s "$VR_CACHE_DIR/vmlinux" ] && [ -s "$VR_CACHE_DIR/initramfs.cpio" ] &&
        [ -n "$(vr_kernel_deb)" ] &&
        [ "$(cat "$VR_CACHE_DIR/stamp" 2>/dev/null)" = "$(vr_image_inputs_hash)" ]
}

# vr_extract_vmlinux VMLINUZ OUT: the XZ-compressed kernel inside a bzImage, decompressed.
# An ELF vmlinux with a PVH note boots directly (no decompressor run in the slow TCG CPU).
# Falls back to copying the bzImage if there is no XZ stream.
vr_extract_vmlinux() {
    local in="$1" out="$2" off
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$in" 2>/dev/null | head -n 1 | cut -d: -f1)
    rm -f "$out.tmp"
    if [ -n "$off" ]; then
        # (tail may die of SIGPIPE when xz stops at the end of the stream: check the output)
        tail -c +"$((off + 1))" "$in" | xz -dc --single-stream >"$out.tmp" 2>/dev/null || true
    fi
    if [ -s "$out.tmp" ] && [ "$(head -c 4 "$out.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
        mv "$out.tmp" "$out"
    else
        rm -f "$out.tmp"
        cp "$in" "$out"
    fi
}

# vr_copy_modules KROOT KVER LIST TREE ORDER: copy the modules named in the file LIST and
# their dependencies, in load order, into TREE/lib/modules/ (skipping those already
# there) and write their file names, one a line, to TREE/lib/modules/ORDER.
vr_copy_modules() {
    local kroot="$1" kver="$2" list="$3" tree="$4" order="$5" wanted ko
    wanted=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$list")
    : >"$tree/lib/modules/$order"
    # Dependency order from modprobe --show-depends; keep the first occurrence of each.
    # shellcheck disable=SC2086
    modprobe -d "$kroot" -S "$kver" --show-depends -a $wanted |
        awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >"$tree/modlist"
    while read -r ko; do
        [ -e "$tree/lib/modules/$(basename "$ko")" ] && continue
        cp "$ko" "$tree/lib/modules/"
        basename "$ko" >>"$tree/lib/modules/$order"
    done <"$tree/modlist"
    rm "$tree/modlist"
}

# vr_build_initramfs KROOT KVER OUT: a newc cpio with busybox, the modules (and their
# dependencies, in load order) listed in vm/modules (lib/modules/load-order) and in
# vm/modules-controllers (lib/modules/load-order-controllers), and vm/init as /init.
vr_build_initramfs() {
    local kroot="$1" kver="$2" out="$3" tree
    tree=$(mktemp -d "$VR_CACHE_DIR/initramfs.XXXXXX")
    mkdir -p "$tree"/{bin,dev,proc,sys,newroot,ctl,lib/modules}
    cp "$(command -v busybox)" "$tree/bin/busybox"
    local applet
    for applet in $("$tree/bin/busybox" --list); do
        [ -e "$tree/bin/$applet" ] || ln -s busybox "$tree/bin/$applet"
    done
    install -m 0755 "$VR_VM_DIR/init" "$tree/init"

    depmod -b "$kroot" "$kver"
    vr_copy_modules "$kroot" "$kver" "$VR_VM_DIR/modules" "$tree" load-order
    vr_copy_modules "$kroot" "$kver" "$VR_VM_DIR/modules-controllers" "$tree" load-order-controllers

    (cd "$tree" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$out"
    rm -rf "$tree"
}

# vr_image_build: (re)build vm/cache/vmlinux and initramfs.cpio if their inputs changed,
# downloading the kernel package if none is cached. Safe to run concurrently (flock).
vr_image_build() {
    mkdir -p "$VR_CACHE_DIR"
    (
        flock 9
        vr_image_fresh && exit 0
        if [ -z "$(vr_kernel_deb)" ]; then
            vr_kernel_download || { vr_say "error: cannot download the kernel package ($VR_KERNEL_META)"; exit 1; }
        fi
        local deb kroot kver
        deb=$(vr_kernel_deb)
        kroot=$(mktemp -d "$VR_CACHE_DIR/kernel.XXXXXX")
        dpkg -x "$deb" "$kroot"
        kver=$(ls -1 "$kroot/lib/modules" | head -n 1)
        [ -n "$kver" ] && [ -f "$kroot/boot/vmlinuz-$kver" ] || { rm -rf "$kroot"; vr_say "error: no kernel in $deb"; exit 1; }
        vr_extract_vmlinux "$kroot/boot/vmlinuz-$kver" "$VR_CACHE_DIR/vmlinux.new"
        vr_build_initramfs "$kroot" "$kver" "$VR_CACHE_DIR/initramfs.cpio.new"
        rm -rf "$kroot"
        mv "$VR_CACHE_DIR/vmlinux.new" "$VR_CACHE_DIR/vmlinux"
        mv "$VR_CACHE_DIR/initramfs.cpio.new" "$VR_CACHE_DIR/initramfs.cpio"
        vr_image_inputs_hash >"$VR_CACHE_DIR/stamp"
    ) 9>"$VR_CACHE_DIR/.lock"
}

# shellcheck shell=bash
# shellcheck disable=SC2054 # (QEMU options are comma-separated lists)
# Boot the vcan-run QEMU VM and run one command in it (see vm/init for the guest side).
# Requires common.sh, vm-image.sh and vm-config.sh.
#
# Host <-> guest plumbing, all in a per-run control folder ($ctl, a 9p share "vcanctl"):
#   config.sh  interfaces, MTU, writable folders, mode     (host -> guest)
#   cmd.sh     env exports + cd + exec of the command      (host -> guest)
#   started    touched by the guest just before the command runs (boot watchdog)
#   status     the command's exit status                   (guest -> host)
#   error      why the guest gave up, if it did             (guest -> host)
#   out, err   FIFOs behind the virtio-serial ports vcan.stdout/.stderr, relayed by
#              `cat` to our stdout/stderr (a piped stdin goes to QEMU's stdio chardev,
#              port vcan.stdin)
#   console    FIFO of the guest's serial console (kernel + init messages), relayed to
#              console.log (shown when the VM fails) or, with VCAN_VM_DEBUG=1, to stderr

# vr_qemu: the QEMU binary, or nothing.
vr_qemu() { command -v "${VCAN_VM_QEMU:-qemu-system-x86_64}" 2>/dev/null || true; }

# vr_vm_missing: print what the VM path lacks on this host (empty when it can work).
vr_vm_missing() {
    local t missing=()
    [ -n "$(vr_qemu)" ] || missing+=(qemu-system-x86_64)
    for t in busybox cpio xz depmod modprobe dpkg; do vr_have "$t" || missing+=("$t"); done
    if [ -z "$(vr_kernel_deb)" ] && ! vr_have apt-get; then missing+=("a kernel (no apt-get)"); fi
    if [ "$(vr_controllers)" -gt 0 ] && [ -n "$(vr_qemu)" ] &&
        ! "$(vr_qemu)" -device help 2>/dev/null | grep -q '"kvaser_pci"'; then
        missing+=("QEMU's kvaser_pci device (VCAN_CONTROLLERS)")
    fi
    echo "${missing[*]}"
}

# vr_qemu_args MODE CTL STDIN: set the array VR_QEMU_ARGS (QEMU's command line without
# the stdio plumbing) for a run with control folder CTL; VR_RW_DIRS must be set.
vr_qemu_args() {
    local mode="$1" ctl="$2" debug="${VCAN_VM_DEBUG:-0}" append mhz d i=0
    # pci=noacpi: PCI IRQ routing without the ACPI interpreter, cryptomgr.notests: no
    # crypto self-tests; each saves about a second of boot in the emulated CPU.
    # lpj (loops per jiffy, from the host's TSC MHz at the kernel's HZ=250): the second
    # vCPU skips its delay-loop calibration (~0.4 s).
    append="console=ttyS0 panic=-1 cryptomgr.notests vcan.debug=$debug"
    # (pci=noacpi also leaves the I/O BARs of PCI devices unclaimed: the kvaser_pci driver
    # then fails its probe without a word. The VM with controllers boots ~1 s slower.)
    if [ "$(vr_controllers)" -eq 0 ]; then append+=" pci=noacpi"; fi
    mhz=$(awk -F: '/^cpu MHz/ { printf "%d", $2; exit }' /proc/cpuinfo 2>/dev/null || true)
    if [ -n "$mhz" ] && [ "$mhz" -gt 0 ]; then append+=" lpj=$((mhz * 4000))"; fi
    if [ "$debug" = 1 ]; then append+=" loglevel=7"; else append+=" quiet loglevel=0"; fi
    append+=" ${VCAN_VM_APPEND:-}"

    VR_QEMU_ARGS=(
        -machine "${VCAN_VM_MACHINE:-pc}" -nodefaults -no-user-config -display none -vga none -no-reboot
        -accel "${VCAN_VM_ACCEL:-tcg}" -cpu "${VCAN_VM_CPU:-max}" -smp "${VCAN_VM_CPUS:-2}" -m "${VCAN_VM_MEM:-2048}"
        -kernel "$VR_CACHE_DIR/vmlinux" -initrd "$VR_CACHE_DIR/initramfs.cpio" -append "$append"
        -pidfile "$ctl/qemu.pid"
        -device isa-debug-exit,iobase=0xf4,iosize=0x04
        -device virtio-rng-pci
        -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
        -virtfs "local,path=$ctl,mount_tag=vcanctl,security_model=none"
    )
    # Real CAN controllers (VCAN_CONTROLLERS): Kvaser PCIcan cards (one SJA1000 each) on
    # one emulated CAN bus; the guest sees can0, can1 ...
    local controllers k
    controllers=$(vr_controllers)
    if [ "$controllers" -gt 0 ]; then
        VR_QEMU_ARGS+=(-object can-bus,id=vcanbus0)
        for ((k = 0; k < controllers; k++)); do VR_QEMU_ARGS+=(-device kvaser_pci,canbus=vcanbus0); done
    fi
    for d in ${VR_RW_DIRS[@]+"${VR_RW_DIRS[@]}"}; do
        VR_QEMU_ARGS+=(-virtfs "local,path=$d,mount_tag=rw$i,security_model=none,multidevs=remap")
        i=$((i + 1))
    done
    if [ "$mode" = shell ]; then
        # The serial console on this terminal, QEMU's monitor muxed in (Ctrl-a x quits).
        VR_QEMU_ARGS+=(-chardev stdio,id=con,mux=on,signal=off -serial chardev:con
            -mon chardev=con,mode=readline)
    else
        VR_QEMU_ARGS+=(
            -serial "file:$ctl/console"
            -device virtio-serial-pci
            -chardev "file,id=vout,path=$ctl/out" -device virtserialport,chardev=vout,name=vcan.stdout
            -chardev "file,id=verr,path=$ctl/err" -device virtserialport,chardev=verr,name=vcan.stderr
        )
        # stdin: QEMU reads its own stdin (our pipe or file) into the port vcan.stdin; at
        # its end QEMU closes the port and the command reads EOF.
        if [ "$3" = 1 ]; then
            VR_QEMU_ARGS+=(-chardev stdio,id=vin,signal=off -device virtserialport,chardev=vin,name=vcan.stdin)
        fi
    fi
}

# vr_vm_boot CTL STDIN: one boot of the VM in run mode, stdio relayed through the FIFOs
# in CTL, stopped by the boot watchdog if the command has not started in
# VCAN_VM_BOOT_TIMEOUT seconds (then CTL/boot-timeout exists). Returns when QEMU exits.
vr_vm_boot() {
    local ctl="$1" stdin="$2" qemu relays=() qpid watchdog f
    qemu=$(vr_qemu)
    rm -f "$ctl/out" "$ctl/err" "$ctl/console" "$ctl/boot-timeout" "$ctl/qemu.pid"
    mkfifo "$ctl/out" "$ctl/err" "$ctl/console"
    # A relay fails only if our stdout/stderr is gone (a reader like `head` exited): the
    # guest cannot see that (its writes would block forever), so the VM is stopped, as
    # SIGPIPE would have stopped the command.
    (cat "$ctl/out" || { : >"$ctl/broken-pipe"; kill "$(cat "$ctl/qemu.pid" 2>/dev/null)" 2>/dev/null; }) &
    relays+=($!)
    (cat "$ctl/err" >&2 || { : >"$ctl/broken-pipe"; kill "$(cat "$ctl/qemu.pid" 2>/dev/null)" 2>/dev/null; }) &
    relays+=($!)
    if [ "${VCAN_VM_DEBUG:-0}" = 1 ]; then cat "$ctl/console" >&2 & else cat "$ctl/console" >"$ctl/console.log" & fi
    relays+=($!)

    vr_debug "qemu ${VR_QEMU_ARGS[*]}"
    # QEMU's own messages go to qemu.log, shown if the run fails (stderr when debugging).
    local qlog="$ctl/qemu.log"
    if [ "${VCAN_VM_DEBUG:-0}" = 1 ]; then qlog=/dev/stderr; fi
    if [ "$stdin" = 1 ]; then
        exec 3<&0 # (a background job's stdin would be /dev/null)
        "$qemu" "${VR_QEMU_ARGS[@]}" <&3 >/dev/null 2>>"$qlog" &
        exec 3<&-
    else
        "$qemu" "${VR_QEMU_ARGS[@]}" </dev/null >/dev/null 2>>"$qlog" &
    fi
    qpid=$!
    (
        deadline=$((SECONDS + ${VCAN_VM_BOOT_TIMEOUT:-60}))
        while [ ! -e "$ctl/started" ] && kill -0 "$qpid" 2>/dev/null; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                : >"$ctl/boot-timeout"
                kill "$qpid" 2>/dev/null
                break
            fi
            sleep 0.5
        done
    ) </dev/null >/dev/null 2>&1 &
    watchdog=$!
    trap 'kill '"$qpid"' 2>/dev/null; wait '"$qpid"' 2>/dev/null; rm -rf '"'$ctl'"'; exit 130' INT
    trap 'kill '"$qpid"' 2>/dev/null; wait '"$qpid"' 2>/dev/null; rm -rf '"'$ctl'"'; exit 143' TERM HUP
    wait "$qpid" || true
    trap - INT TERM HUP
    kill "$watchdog" 2>/dev/null || true
    # Unblock relays still waiting in open() (if QEMU never opened its end), then drain.
    for f in out err console; do { exec 4<>"$ctl/$f"; exec 4>&-; } 2>/dev/null || true; done
    wait "${relays[@]}" 2>/dev/null || true
}

# vr_vm_run MODE CMD...: boot the VM, run CMD (MODE run: stdio relayed through
# virtio-serial; MODE shell: on the serial console, this terminal), return its status.
# A boot that hangs before the command started is retried once (unless stdin was being
# forwarded: QEMU may have consumed some of it).
vr_vm_run() {
    local mode="$1"
    shift
    local ctl status
    ctl=$(mktemp -d "${TMPDIR:-/tmp}/vcan-run.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$ctl'" EXIT
    vr_rw_dirs

    # Forward stdin only when it is a pipe or a file (a terminal or /dev/null: the
    # command gets /dev/null; use vm-shell for interactive work).
    local stdin=0
    if [ "$mode" = run ] && [ "${VCAN_STDIN:-1}" = 1 ] && { [ -p /dev/stdin ] || [ -f /dev/stdin ]; }; then
        stdin=1
    fi
    vr_write_config "$ctl/config.sh" "$mode" "$stdin" ${VR_RW_DIRS[@]+"${VR_RW_DIRS[@]}"}
    vr_write_cmd "$ctl/cmd.sh" "$mode" "$@"
    vr_qemu_args "$mode" "$ctl" "$stdin"

    if [ "$mode" = shell ]; then
        vr_debug "qemu ${VR_QEMU_ARGS[*]}"
        "$(vr_qemu)" "${VR_QEMU_ARGS[@]}" || true
    else
        vr_vm_boot "$ctl" "$stdin"
        if [ -f "$ctl/boot-timeout" ] && [ "$stdin" = 0 ]; then
            vr_say "warning: the VM hung while booting; booting it again"
            vr_vm_boot "$ctl" "$stdin"
        fi
    fi

    if [ -f "$ctl/status" ]; then
        status=$(cat "$ctl/status")
        rm -rf "$ctl"
        trap - EXIT
        return "$status"
    fi
    if [ -f "$ctl/broken-pipe" ]; then
        rm -rf "$ctl"
        trap - EXIT
        return 141 # 128 + SIGPIPE, as for a command killed by it
    fi
    if [ -f "$ctl/error" ]; then
        vr_say "error: VM: $(cat "$ctl/error")"
    elif [ -f "$ctl/boot-timeout" ]; then
        vr_say "error: the VM did not start the command within ${VCAN_VM_BOOT_TIMEOUT:-60} s"
    else
        vr_say "error: the VM stopped without an exit status"
    fi
    if [ -s "$ctl/qemu.log" ]; then sed 's/^/  qemu: /' "$ctl/qemu.log" >&2; fi
    if [ -s "$ctl/console.log" ] && [ "${VCAN_VM_DEBUG:-0}" != 1 ]; then
        vr_say "last console lines (VCAN_VM_DEBUG=1 shows all):"
        tail -n 20 "$ctl/console.log" >&2
    fi
    rm -rf "$ctl"
    trap - EXIT
    return "$VR_EXIT_ERROR"
}

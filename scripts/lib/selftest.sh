# shellcheck shell=bash
# `scripts/vcan-run --self-test`: checks vcan-run end to end (wherever it runs CMD:
# natively or in the VM). Prints one line per check and "N passed, N failed".
# With VCAN_CONTROLLERS set (every run then boots the VM with them) it also checks the
# controllers: can0 is an SJA1000 at VCAN_BITRATE, frames sent on can0 arrive on can1,
# and, with VCAN_TBF, the tbf qdisc is there. Requires common.sh and vm-config.sh.

VR_ST_PASS=0
VR_ST_FAIL=0

# vr_st_check NAME EXPECTED ACTUAL: record and print one result.
vr_st_check() {
    if [ "$2" = "$3" ]; then
        VR_ST_PASS=$((VR_ST_PASS + 1))
        echo "ok   $1"
    else
        VR_ST_FAIL=$((VR_ST_FAIL + 1))
        echo "FAIL $1: expected [$2], got [$3]"
    fi
}

# vr_st_guest_results OUTPUT: count and print the "ok"/"FAIL" lines of checks run in the guest.
vr_st_guest_results() {
    local line
    while IFS= read -r line; do
        case "$line" in
            "ok   "*) VR_ST_PASS=$((VR_ST_PASS + 1)); echo "$line" ;;
            "FAIL "*) VR_ST_FAIL=$((VR_ST_FAIL + 1)); echo "$line" ;;
            *) echo "     $line" ;;
        esac
    done <<<"$1"
}

# The checks run inside one vcan-run; senders repeat until the receiver has its frame
# (a receiver started in the background may not be listening yet).
VR_ST_GUEST='
set -u
check() { if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: expected [$2], got [$3]"; fi; }
check "vcan0 is up" "UP" "$(ip link show vcan0 | grep -o "[<,]UP[,>]" | tr -d "<>,")"
check "vcan0 mtu 72 (CAN FD)" "72" "$(cat /sys/class/net/vcan0/mtu)"
candump -n 1 vcan0 >"$T/cd" & p=$!
n=0; while kill -0 $p 2>/dev/null && [ $n -lt 100 ]; do cansend vcan0 123#11; sleep 0.2; n=$((n+1)); done
check "cansend -> candump" "vcan0 123 [1] 11" "$(tr -s " " <"$T/cd" | sed "s/^ //")"
isotprecv -s 7a8 -d 7a0 vcan0 >"$T/it" & p=$!
n=0; while kill -0 $p 2>/dev/null && [ $n -lt 100 ]; do echo 22 F1 8C | isotpsend -s 7a0 -d 7a8 vcan0; sleep 0.2; n=$((n+1)); done
check "isotpsend -> isotprecv" "22 F1 8C" "$(sed "s/ *$//" "$T/it")"
if [ -x "$PY" ]; then
    check "python-can CAN FD + can-isotp socket" "64 ok" "$("$PY" -c "
import can, isotp
with can.Bus(interface=\"socketcan\", channel=\"vcan0\", fd=True) as a, can.Bus(interface=\"socketcan\", channel=\"vcan0\", fd=True) as b:
    a.send(can.Message(arbitration_id=0x7A0, data=bytes(64), is_fd=True, is_extended_id=False))
    m = b.recv(30)
s = isotp.socket(); s.bind(\"vcan0\", isotp.Address(rxid=0x7A8, txid=0x7A0)); s.close()
print(len(m.data) if m else 0, \"ok\")
" 2>&1 | tail -n 1)"
fi
echo written >"$T/from-guest"
'

# With real controllers (VCAN_CONTROLLERS): the SJA1000s on the emulated bus.
VR_ST_CONTROLLERS='
set -u
check() { if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: expected [$2], got [$3]"; fi; }
check "can0 is an SJA1000 at $BITRATE bit/s, error-active, mtu 16" "sja1000 $BITRATE ERROR-ACTIVE 16" \
    "$(ip -d link show can0 | awk "/sja1000:/ { d = \"sja1000\" } /bitrate/ { b = \$2 } /can state/ { s = \$3 } END { print d, b, s }") $(cat /sys/class/net/can0/mtu)"
candump -n 1 can1 >"$T/cc" & p=$!
n=0; while kill -0 $p 2>/dev/null && [ $n -lt 100 ]; do cansend can0 1A5#C0FFEE; sleep 0.2; n=$((n+1)); done
check "cansend can0 -> candump can1" "can1 1A5 [3] C0 FF EE" "$(tr -s " " <"$T/cc" | sed "s/^ //")"
if [ -n "$TBF" ]; then
    check "tbf qdisc on can0" "tbf" "$(tc qdisc show dev can0 | awk "{ print \$2; exit }")"
fi
'

# vr_selftest: run the checks with the vcan-run at $1; exit 0 when all passed.
vr_selftest() {
    local run="$1" out status tmp
    mkdir -p "$VR_CACHE_DIR"
    tmp=$(mktemp -d "$VR_CACHE_DIR/selftest.XXXXXX")
    cd "$VR_REPO_DIR" || return 1
    status=0
    "$run" sh -c 'exit 3' || status=$?
    if [ "$status" -eq "$VR_EXIT_SKIP" ]; then rm -rf "$tmp"; return "$VR_EXIT_SKIP"; fi
    vr_st_check "exit status 3 comes back" 3 "$status"
    status=0
    "$run" sh -c 'kill -9 $$' 2>/dev/null || status=$?
    vr_st_check "killed by SIGKILL: 137" 137 "$status"
    out=$("$run" printf '%s|' 'a b' "c'd" 'e"f' '' '$HOME' 2>&1) || true
    vr_st_check "arguments survive" "a b|c'd|e\"f||\$HOME|" "$out"
    out=$("$run" sh -c 'echo out; echo err >&2' 2>"$tmp/stderr") || true
    vr_st_check "stdout and stderr apart" "out|err" "$out|$(cat "$tmp/stderr")"
    status=$( (set +o pipefail; "$run" yes | head -n 1 >/dev/null; echo "${PIPESTATUS[0]}") )
    vr_st_check "stdout reader gone: 141 (SIGPIPE), no hang" 141 "$status"
    out=$(printf 'line1\nline2\n' | "$run" sh -c 'wc -l' 2>&1 | tr -d ' ') || true
    vr_st_check "piped stdin reaches the command" 2 "$out"
    out=$(SPAAK_SELFTEST='x y' "$run" sh -c 'echo "$SPAAK_SELFTEST|$PWD"' 2>&1) || true
    vr_st_check "SPAAK_* variables and cwd" "x y|$VR_REPO_DIR" "$out"

    out=$(T="$tmp" PY="$VR_REPO_DIR/.venv/bin/python" VCAN_PASS_ENV="T PY" "$run" bash -c "$VR_ST_GUEST" 2>&1) || true
    vr_st_guest_results "$out"
    vr_st_check "files written in the project folder stay" written "$(cat "$tmp/from-guest" 2>/dev/null)"
    if [ "$(vr_controllers)" -gt 0 ]; then
        vr_bus_settings
        out=$(T="$tmp" BITRATE="$VR_BITRATE" TBF="$VR_TBF" VCAN_PASS_ENV="T BITRATE TBF" "$run" bash -c "$VR_ST_CONTROLLERS" 2>&1) || true
        vr_st_guest_results "$out"
    fi
    rm -rf "$tmp"
    echo "vcan-run self-test: $VR_ST_PASS passed, $VR_ST_FAIL failed"
    [ "$VR_ST_FAIL" -eq 0 ]
}

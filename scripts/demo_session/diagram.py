"""The sequence diagram of the run as it happened: the plant's UDS requests seen on the bus
(the EOL tester's steps), the NFC lane of owner pairing seen on the vehicle buses (HU_Request,
taps, one arrow per APDU), the owner pairing states of SPAAK_Status byte 7, the cloud
messages of spaak-cloud's JSON-lines trace and the HTTP calls to the VOS's owner services
(lane "App / portal (HTTP)": the demo's own calls and spaak-phone's, as they are made),
merged over the modules (one arrow per message, phase and NFC session kind, with the modules
that sent it), written as Mermaid (sequence.mmd), as mscgen input (sequence.msc, rendered to
sequence.png where mscgen is installed) and as plain text (sequence.txt, printed at the end
of the demo).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from typing import Iterator

from spaaklib.signals import VERIFIER as VERIFIER_FLAG

#: Lifelines: id, name.
PARTICIPANTS = (("P", "PKI"), ("T", "Tester (EOL / diag)"), ("N", "Phone + NFC reader (HU)"), ("S", "SpaaK module"),
                ("G", "SGW/TBM"), ("V", "VOS"), ("K", "KTS"), ("A", "App / portal (HTTP)"))
NODES = {"SpaaK": "S", "SGW/TBM": "G", "VOS": "V", "KTS": "K", "control": "V"}
#: The failed owner pairing attempts that delete the verifier (ICD 8.3).
FAILED_ATTEMPTS_LIMIT = 8
ROOT_NAMES = {0xD110: "[J]", 0xD111: "[J1]", 0xD112: "[J_PhysicalKey]", 0xD113: "[Z1]", 0xD114: "[ZZ2]"}


@dataclass
class Arrow:
    """One message (or note) of one module: ``kind`` msg, reply, bad (refused) or note;
    ``group`` tells apart the same message in different sequences of one phase (the NFC
    session of phase 2 and that of phase 3 both start with a tap and SELECT)."""

    t: float
    src: str
    dst: str
    label: str
    module: int
    phase: int
    kind: str = "msg"
    group: str = ""


@dataclass
class Merged:
    """An arrow of the diagram: the same message of every module in one phase."""

    t: float
    src: str
    dst: str
    label: str
    phase: int
    kind: str
    counts: dict = field(default_factory=dict)  # module -> how many times

    def text(self, modules: int) -> str:
        """The label with the modules that sent it (when there are several) and repeats."""
        label = self.label
        repeat = max(self.counts.values())
        if repeat > 1:
            label += f" x{repeat}"
        if modules > 1 and self.kind != "phase":
            who = sorted(self.counts)
            everyone = "both" if modules == 2 else f"all {modules}"
            label += f" ({everyone})" if len(who) == modules else (
                " (module " + ", ".join(map(str, who)) + ")")
        return label


#: Plant requests drawn, by their first bytes.
REQUESTS = ((b"\x10\x03", "extended session (10 03)"),
            (b"\x27\x01", "security access: request seed (27 01)"),
            (b"\x27\x02", "send key = AES-CMAC(K_plant, seed) (27 02)"),
            *((b"\x2E" + did.to_bytes(2, "big"), "RP-01 write roots [J] [J1] [J_PhysicalKey] [Z1] [ZZ2] (2E D110-D114)")
              for did in ROOT_NAMES),
            (b"\x2E\xF1\x90", "write VIN (2E F190)"),
            (b"\x2E\xD1\x01", "write ECU identity certificate (2E D101)"),
            (b"\x31\x01\xD2\x00", "RP-02 generate ECU identity key pair + CSR (31 01 D200)"),
            (b"\x31\x01\xD2\x01", "lock plant provisioning (31 01 D201)"),
            (b"\x22\xD1\x00", "read CSR (22 D100)"))
#: Answers drawn, by their first bytes: (prefix, only once the plant locks, label).
REPLIES = ((b"\x62\xD1\x00", False, "CSR (PKCS 10, CN = serial)"),
           (b"\x71\x01\xD2\x00", False, "key pair + CSR generated (71 01 D200)"),
           (b"\x71\x01\xD2\x01", True, "plant locked (71 01 D201)"),
           (b"\x62\xD1\x20", True, "D120: roots, ECU cert VALID, locked"))


def uds_label(payload: bytes, request: bool, locked: bool) -> tuple:
    """(label, kind) of a plant UDS message, or None to leave it out."""
    p = bytes(payload)
    if request:
        label = next((text for prefix, text in REQUESTS if p.startswith(prefix)), None)
        if label:
            return label, "msg"
        if p[:3] == b"\x22\xF1\x8C" or p[:3] == b"\x22\xD1\x20":
            return ("read back status (22 D120)" if locked else "identify: serial, status (22 F18C, D120)"), "msg"
        return None
    for prefix, once_locked, text in REPLIES:
        if p.startswith(prefix) and (locked or not once_locked):
            return text, "reply"
    if p[:1] == b"\x7F" and len(p) >= 3 and p[2] != 0x78:
        return f"NRC 0x{p[2]:02X} to 0x{p[1]:02X}", "bad"
    return None


def plant_arrows(frames: list, phase: int, modules: int) -> list:
    """The plant part from the UDS frames of the bus, plus the EOL tester's PKI batch."""
    arrows, locked = [], set()
    for f in sorted(frames, key=lambda f: f.t):
        if f.request and f.payload[:4] == b"\x31\x01\xD2\x01":
            locked.add(f.module)
        found = uds_label(f.payload, f.request, f.module in locked)
        if found is None:
            continue
        label, kind = found
        src, dst = ("T", "S") if f.request else ("S", "T")
        arrows.append(Arrow(f.t, src, dst, label, f.module, phase, kind))
    csrs = [a.t for a in arrows if a.label.startswith("CSR (")]
    certs = [a.t for a in arrows if a.label.startswith("write ECU identity")]
    if csrs and certs:
        t = max(csrs)
        for k in range(1, modules + 1):
            arrows.append(Arrow(t + 0.001, "T", "P", "RP-02 CSR batch (sign-csrs)", k, phase))
            arrows.append(Arrow(t + 0.002, "P", "T", "ECU identity certificates", k, phase, "reply"))
    return arrows


def nfc_arrows(events: list, phase_of) -> list:
    """The NFC lane from the bus monitor's NfcEvents (nfc.py)."""
    return [Arrow(e.t, e.src, e.dst, e.label, e.module, phase_of(e.t), e.kind, f"session {e.session}" if e.session else "")
            for e in events]


def status_notes(transitions: list, phase_of) -> list:
    """Notes on the module's lifeline from SPAAK_Status: each new owner pairing state (byte 7)
    and the verifier deleted by the failed attempts (byte 6)."""
    notes = []
    for t, module, before, after in transitions:
        if before is None:
            continue
        if after.owner != before.owner:
            words = OWNER_NOTES.get((before.owner, after.owner)) or OWNER_NOTES.get((None, after.owner), "unknown")
            notes.append(Arrow(t, "S", "S", f"byte 7 = {after.owner}: {words}", module, phase_of(t), "note"))
        if before.flags & VERIFIER_FLAG and not after.flags & VERIFIER_FLAG and after.failed >= FAILED_ATTEMPTS_LIMIT:
            notes.append(Arrow(t, "S", "S", f"{after.failed} failed attempts: verifier deleted, PP-03", module,
                               phase_of(t), "note"))
    return notes


#: The notes of owner pairing state changes: (before or None for any, after) -> words.
OWNER_NOTES = {(None, 0): "owner key deleted", (1, 0): "pairing window closed", (None, 1): "pairing window open",
               (None, 2): "owner key pending, verifier deleted", (None, 3): "owner key active, window closed"}


#: The V2C messages whose label carries a detail of the trace: (type, pattern of the detail).
DETAILS = {0x09: re.compile(r"\b(reason \d+)"), 0x0D: re.compile(r"\b(state \d+)")}


def _with_detail(label: str, event: dict) -> str:
    pattern = DETAILS.get(event.get("type"))
    found = pattern.search(event.get("detail") or "") if pattern else None
    return f"{label} {found.group(1)}" if found else label


def trace_arrows(path: str, module: int, phase_of) -> list:
    """The cloud part of one vehicle from spaak-cloud's --trace file."""
    arrows = []
    try:
        with open(path, encoding="utf-8") as f:
            events = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return arrows
    waiting: dict = {}  # V2C message name -> its arrow, drawn when the VOS began to wait (for a verifier)
    last_v2c = ""       # the label of the last V2C message accepted: the acknowledgement (0x06) that follows is its own
    for e in events:
        t = e.get("ms", 0) / 1000.0
        name = e.get("name")
        code = f" (0x{e['type']:02X})" if "type" in e else ""
        src, dst = NODES.get(e.get("from"), "V"), NODES.get(e.get("to"), "S")
        outcome, detail = e.get("outcome"), e.get("detail") or ""
        if outcome == "accepted" and e.get("direction") == "V2C":
            if name in waiting:
                drawn = waiting.pop(name)
                drawn.label = last_v2c = _with_detail(drawn.label, e)
            else:
                last_v2c = _with_detail(f"{name}{code}", e)
                arrows.append(Arrow(t, "S", "V", last_v2c, module, phase_of(t)))
        elif outcome == "info" and e.get("direction") == "V2C" and name:
            waiting[name] = Arrow(t, "S", "V", f"{name}{code}", module, phase_of(t))
            arrows.append(waiting[name])
            arrows.append(Arrow(t + 0.0001, "V", "V", "VOS: " + (detail or "waiting"), module, phase_of(t), "note"))
        elif outcome == "delivered" and e.get("direction") == "C2V":
            origin = "K" if name == "OwnerKeyTermination" else "V"  # the TBM delivers what they signed
            # two acknowledgements in one phase (0x0D state 1, then state 3) are two arrows
            group = f"after {last_v2c}" if e.get("type") == 0x06 else ""
            arrows.append(Arrow(t, origin, "S", f"{name}{code}", module, phase_of(t), group=group))
        elif outcome in ("refused", "discarded", "dropped", "not-sent"):
            arrows.append(Arrow(t, src, dst, f"{name or 'message'}{code} {outcome}: {detail}".strip(), module,
                                phase_of(t), "bad"))
        elif outcome == "info" and e.get("from") == "SGW/TBM":
            arrows.append(Arrow(t, "G", "S", "TBM_Status (0x3A0): " + detail.split(":")[0], module, phase_of(t)))
        elif outcome == "info" and e.get("from") == "control":
            command, _, reply = detail.partition(" → ")
            verb = command.split(" ")[0]
            if verb == "password" and reply.startswith("ok"):
                arrows.append(Arrow(t, "V", "N", "pairing password (to the owner, once)", module, phase_of(t), "reply"))
            elif verb in ("push-verifier", "terminate-owner-key", "register-ecu"):
                what = "register-ecu: ECU identity certificate" if verb == "register-ecu" else verb
                arrows.append(Arrow(t, "V", "V", f"operator: {what}", module, phase_of(t), "note"))
    return arrows


#: A note from SPAAK_Status and the message it causes: (the note's words, the message's label
#: start). SPAAK_Status is cyclic (100 ms), so the frame that shows the cause can reach the bus
#: monitor after the VOS logged the message that followed it.
CAUSES = [("failed attempts: verifier deleted", "Spake2VerifierRequest (0x09) reason 2")]
#: How much later than its effect a cause may be seen (one SPAAK_Status cycle and some margin), s.
CAUSE_LAG = 0.5


def causes_first(arrows: list) -> list:
    """The arrows with each note of CAUSES moved to just before the message it caused, when that
    message of the same module came at most CAUSE_LAG earlier."""
    moved = []
    for a in arrows:
        for words, effect in CAUSES:
            if a.kind == "note" and words in a.label:
                earlier = [e.t for e in arrows if e.module == a.module and e.label.startswith(effect)
                           and a.t - CAUSE_LAG <= e.t < a.t]
                if earlier:
                    a = replace(a, t=min(earlier) - 0.0005)
        moved.append(a)
    return moved


def merge(arrows: list) -> list:
    """One Merged per (phase, group, src, dst, label, kind), at its first time, in time order. A
    failed message (kind bad) goes right after the same message's arrow: the merged view has
    one timeline for all modules, where a retry of one module would come long after. A cause
    seen late goes before its effect (causes_first)."""
    merged: dict = {}
    for a in sorted(causes_first(arrows), key=lambda a: a.t):
        key = (a.phase, a.group, a.src, a.dst, a.label, a.kind)
        m = merged.setdefault(key, Merged(a.t, a.src, a.dst, a.label, a.phase, a.kind))
        m.counts[a.module] = m.counts.get(a.module, 0) + 1
    items = list(merged.values())
    for bad in (m for m in items if m.kind == "bad"):
        name = bad.label.split(" ")[0]
        same = [m.t for m in items if m.kind != "bad" and m.phase == bad.phase and m.label.split(" ")[0] == name]
        if same:
            bad.t = min(same) + 0.0005
    return sorted(items, key=lambda m: (m.phase, m.t))


def _ascii_safe(text: str) -> str:
    return text.replace("→", "->").replace("…", "...").replace("—", "-").encode("ascii", "replace").decode()


def _walk(items: list, phases: list, modules: int, quote) -> Iterator[tuple]:
    """What every renderer draws, in order: (quoted phase title, None) where a phase starts,
    (quoted label, the arrow) for each arrow."""
    phase = None
    for m in items:
        if m.phase != phase:
            phase = m.phase
            yield quote(phases[phase]), None
        yield quote(m.text(modules)), m


#: The two text forms of the diagram: a template per line kind, the arrow of each kind.
MERMAID = {"phase": "    Note over P,A: {text}", "note": "    Note over {src}: {text}",
           "arrow": "    {src}{arrow}{dst}: {text}", "arrows": {"reply": "-->>", "bad": "-x", "msg": "->>"}}
MSC = {"phase": '  --- [label="{text}"];', "note": '  {src} note {dst} [label="{text}"];',
       "arrow": '  {src}{arrow}{dst} [label="{text}"{color}];', "arrows": {"reply": ">>", "bad": "-x", "msg": "=>"},
       "bad": ', linecolor="red", textcolor="red"'}


def _lines(items: list, phases: list, modules: int, quote, form: dict) -> list:
    """One line of ``form`` per phase title and arrow."""
    out = []
    for text, m in _walk(items, phases, modules, quote):
        if m is None:
            out.append(form["phase"].format(text=text))
        elif m.kind == "note":
            out.append(form["note"].format(src=m.src, dst=m.dst, text=text))
        else:
            out.append(form["arrow"].format(src=m.src, dst=m.dst, text=text,
                                            arrow=form["arrows"].get(m.kind, form["arrows"]["msg"]),
                                            color=form.get("bad", "") if m.kind == "bad" else ""))
    return out


def mermaid(items: list, phases: list, modules: int) -> str:
    """``sequenceDiagram`` text."""
    out = ["sequenceDiagram"] + [f"    participant {pid} as {name}" for pid, name in PARTICIPANTS]
    return "\n".join(out + _lines(items, phases, modules, _mermaid_text, MERMAID)) + "\n"


def _mermaid_text(text: str) -> str:
    return _ascii_safe(text).replace(";", ",").replace("#", "#35;")


def _msc_text(text: str) -> str:
    return _ascii_safe(text).replace("\\", "/").replace('"', "'")


def msc(items: list, phases: list, modules: int) -> str:
    """mscgen input."""
    out = ["msc {", '  hscale = "2.4", wordwraparcs = "true";',
           "  " + ", ".join(f'{pid} [label="{_msc_text(name)}"]' for pid, name in PARTICIPANTS) + ";"]
    return "\n".join(out + _lines(items, phases, modules, _msc_text, MSC) + ["}"]) + "\n"


def ascii_art(items: list, phases: list, modules: int, gap: int = 17) -> str:
    """Plain text: a column per lifeline, one line per arrow (two when the label is long)."""
    cols = {pid: 8 + i * gap for i, (pid, _) in enumerate(PARTICIPANTS)}
    width = cols[PARTICIPANTS[-1][0]] + 10

    def base() -> list:
        line = [" "] * width
        for x in cols.values():
            line[x] = "|"
        return line

    head = [" "] * width
    for pid, name in PARTICIPANTS:
        short = name.split(" (")[0]
        start = max(0, cols[pid] - len(short) // 2)
        head[start:start + len(short)] = short
    lines = ["".join(head).rstrip(), "".join(base()).rstrip()]
    for text, m in _walk(items, phases, modules, _ascii_safe):
        if m is None:
            title = f" {text} "
            lines.append("=" * 4 + title + "=" * max(4, width - 4 - len(title)))
            continue
        if m.kind == "note" or m.src == m.dst:
            line = base()
            note = f"[{text}]"
            x = max(0, min(cols[m.src] + 2, width - len(note)))  # a long note moves left, within the width
            line[x:x + len(note)] = note
            lines.append("".join(line).rstrip())
            continue
        a, b = cols[m.src], cols[m.dst]
        lo, hi = min(a, b), max(a, b)
        body = ["-"] * (hi - lo - 1)
        if m.kind == "reply":
            body = ["-" if i % 2 == 0 else " " for i in range(hi - lo - 1)]
        if b > a:
            body[-1] = ">" if m.kind != "bad" else "x"
        else:
            body[0] = "<" if m.kind != "bad" else "x"
        line = base()
        line[lo + 1:hi] = body
        if len(text) + 4 <= hi - lo - 1:
            start = lo + 1 + (hi - lo - 1 - len(text)) // 2
            line[start - 1:start + len(text) + 1] = f" {text} "
        else:
            above = base()
            start = lo + 2
            above[start:start + len(text)] = text
            lines.append("".join(above).rstrip())
        lines.append("".join(line).rstrip())
    return "\n".join(lines) + "\n"


def render_png(msc_path: str, png_path: str) -> str:
    """Renders with mscgen; a sentence saying what happened."""
    mscgen = shutil.which("mscgen")
    if mscgen is None:
        return "no image: mscgen is not installed (scripts/setup installs it)"
    try:
        done = subprocess.run([mscgen, "-T", "png", "-i", msc_path, "-o", png_path], capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"no image: mscgen failed ({error})"
    if done.returncode != 0:
        return f"no image: mscgen failed: {(done.stderr or done.stdout).strip()[:300]}"
    return f"image: {png_path}"

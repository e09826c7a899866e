"""The end of the run: the files kept, the sequence diagram written and shown, the table of
what each module holds, summary.json's content."""
from __future__ import annotations

import os
import shutil
import time

from . import diagram


def keep_files(run_dir: str, out: str) -> None:
    """Copies the stores, VOS databases, traces and mail outboxes from the run folder to ``out``
    (not the identity provider's private key)."""
    for name in sorted(os.listdir(run_dir)):
        src = os.path.join(run_dir, name)
        if name.startswith(("store-", "mail-")) or name == "cloud":
            shutil.copytree(src, os.path.join(out, name), dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.sock"))
        elif name.endswith(".key"):  # the phones' state files (endpoint key, [K])
            os.makedirs(os.path.join(out, "phones"), exist_ok=True)
            shutil.copy2(src, os.path.join(out, "phones", name))
    shutil.rmtree(run_dir, ignore_errors=True)


def table(rows: list) -> str:
    """The final table: one row per module."""
    head = ("module", "bus", "VIN", "flags (SPAAK_Status byte 2)", "KeyM certificate status",
            "owner pairing (D124)", "owner key id", "friendly name")
    lines = []
    for r in rows:
        groups: dict = {}
        for slot, status in r["certificates"].items():
            groups.setdefault(status, []).append(slot)
        keym = "; ".join(f"{status}: {' '.join(slots)}" for status, slots in groups.items())
        owner = r["owner_pairing"]
        lines.append((r["serial"], r["bus"], r["vin"] or "-", ", ".join(r["flags"]), keym,
                      f"{owner['state']} {owner['words']}", owner["key_id"] or "-", owner["name"] or "-"))
    widths = [max(len(str(x[i])) for x in [head] + lines) for i in range(len(head))]

    def fmt(row) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in lines])


def finish(story) -> dict:
    """Diagram, file list and the rest of summary.json (after the children stopped: the
    traces are whole)."""
    out, n, console = story.out, story.n, story.console
    arrows = (diagram.plant_arrows(story.bus.uds, 0, n) + list(story.actions)
              + diagram.nfc_arrows(story.bus.nfc.events, story.phase_of)
              + diagram.status_notes(story.bus.transitions, story.phase_of))
    for m in story.modules:
        arrows += diagram.trace_arrows(os.path.join(out, "cloud", f"trace-{m.number}.jsonl"), m.number,
                                       story.phase_of)
    items = diagram.merge(arrows)
    titles = [title for title, _ in story.phases]
    paths = {ext: os.path.join(out, f"sequence.{ext}") for ext in ("mmd", "msc", "txt", "png")}
    for ext, text in (("mmd", diagram.mermaid(items, titles, n)), ("msc", diagram.msc(items, titles, n)),
                      ("txt", diagram.ascii_art(items, titles, n))):
        with open(paths[ext], "w", encoding="utf-8") as f:
            f.write(text)
    if story.in_vm:
        # mscgen takes seconds on the emulated CPU, a blink on the host: scripts/demo runs it there
        image = "image: sequence.png made by scripts/demo on the host, after the session"
    else:
        t = time.monotonic()
        image = diagram.render_png(paths["msc"], paths["png"])
        story.say(f"sequence diagram written, {image.split(':')[0]} in {time.monotonic() - t:.1f} s")
    console.section("Sequence diagram of this run (" + os.path.relpath(paths["txt"]) + ")")
    with open(paths["txt"], encoding="utf-8") as f:
        console.raw(f.read().rstrip())
    rel = os.path.relpath(out)
    console.raw("")
    console.raw("Files:")
    for line in (f"  {rel}/pki/        the PKI: roots, VOS signer (spaak-pki)",
                 f"  {rel}/plant/      CSRs, ECU certificates, eol.json (EOL tester)",
                 f"  {rel}/store-N/    each module's secure store",
                 f"  {rel}/cloud/      vos-N.sqlite (VOS database), trace-N.jsonl (spaak-cloud --trace)",
                 f"  {rel}/mail-N/     each VOS's mail outbox (Maildir): the OP-01b e-mail with its (redeemed) link",
                 f"  {rel}/phones/     the phones' state files (spaak-phone --key: endpoint key, [K])",
                 f"  {rel}/logs/       candump.log (every frame), one log per process; demo.txt: this output",
                 f"  {rel}/sequence.*  .mmd Mermaid, .txt text, .msc mscgen; {image.replace(out, rel)}"):
        console.raw(line)
    console.raw(f"\ndemo finished in {story.deadline.elapsed():.1f} s: "
                f"{story.bus.frames} frames on the buses, {story.bus.e2e_errors} with an E2E error")
    return {"elapsed_s": round(story.deadline.elapsed(), 1), "phases": titles,
            "diagram": [{"src": m.src, "dst": m.dst, "label": m.label, "kind": m.kind, "phase": m.phase,
                         "modules": sorted(m.counts)} for m in items],
            "image": paths["png"] if os.path.exists(paths["png"]) else None,
            "bus": {"frames": story.bus.frames, "e2e_errors": story.bus.e2e_errors}}

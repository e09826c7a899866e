"""``python -m demo_session``: run the demo's session (where vcan0..vcanN exist)."""
from __future__ import annotations

import argparse
import json
import os
import sys

from .procs import DemoError
from .story import ROOT, Story
from .vehicle import MAX_MODULES


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="demo_session", description=(__package__ and sys.modules[__package__].__doc__
                                                                  or "").split("\n\n")[0])
    p.add_argument("--modules", type=int, default=3, metavar="N", help=f"modules (1..{MAX_MODULES}, default 3)")
    p.add_argument("--out", default=os.path.join(ROOT, "out", "demo"), metavar="DIR", help="output folder (out/demo)")
    p.add_argument("--timeout", type=float, default=480.0, metavar="S", help="overall time limit (480 s)")
    p.add_argument("--quick", action="store_true",
                   help="cheaper verifiers (scrypt N = 1024) for tests on slow machines")
    p.add_argument("--scrypt-n", type=int, metavar="N",
                   help="scrypt cost of the VOS's verifiers (power of two; default 32768, 4096 in the QEMU VM)")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    scrypt_n = args.scrypt_n or (1024 if args.quick else None)  # None: the story's default for where it runs
    story = None
    try:
        story = Story(args.modules, args.out, args.timeout, scrypt_n)
        result = story.run()
    except DemoError as error:
        print(f"\ndemo FAILED: {error}", file=sys.stderr)
        if story is not None and story.console is not None:
            print(f"logs: {os.path.relpath(os.path.join(story.out, 'logs'))}/", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo interrupted: every process it started is stopped", file=sys.stderr)
        return 130
    with open(os.path.join(story.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    return 0


sys.exit(main())

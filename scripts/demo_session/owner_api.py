"""The demo's side of the VOS's owner services over HTTP (OP-01a, OP-01b; issue 10): tokens
from the simulated identity provider (``spaak-cloud token``), JSON calls with a bearer token
(the customer portal's e-mail request, the hotline's fleet view), the e-mail read from the
VOS's mail outbox (a Maildir) and its deep link, and the fleet view as a table.

Nothing printed here shows a pairing password or a deep link's token (``redact``).
"""
from __future__ import annotations

import email
import email.policy
import json
import mailbox
import os
import re
import subprocess
import urllib.error
import urllib.request
from typing import Optional

from .procs import DemoError

#: The deep link of the VOS's e-mail (OpenAPI: spaak://pair?vin=VIN&token=TOKEN).
DEEP_LINK = re.compile(r"^spaak://pair\?vin=[A-HJ-NPR-Z0-9]{17}&token=[A-Za-z0-9_-]{43}$")
#: What announces the HTTP side in spaak-cloud serve's output.
HTTP_LINE = re.compile(r"HTTP on (http://127\.0\.0\.1:\d+)")


def redact(link: str) -> str:
    """The link without its token."""
    return re.sub(r"token=[A-Za-z0-9_-]+", lambda m: f"token=<{len(m.group(0)) - 6} characters>", link)


def token(spaak_cloud: str, idp_key: str, user: str, role: str, timeout: float) -> str:
    """A bearer token of the simulated identity provider: ``spaak-cloud token`` prints only it on
    stdout (what it says on stderr, e.g. that it made the key, is not part of it)."""
    what = f"spaak-cloud token --user {user} --role {role}"
    try:
        done = subprocess.run([spaak_cloud, "token", "--idp-key", idp_key, "--user", user, "--role", role],
                              capture_output=True, text=True, timeout=max(timeout, 0.01), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DemoError(f"{what}: {error}") from None
    out = done.stdout.strip()
    if done.returncode != 0 or out.count(".") != 2 or any(c.isspace() for c in out):
        raise DemoError(f"{what} printed no JWT (exit {done.returncode}): {done.stderr.strip()}")
    return out


class Problem(DemoError):
    """An RFC 9457 problem document (or another non-2xx answer) of the owner services."""

    def __init__(self, status: int, body: dict, text: str):
        self.status, self.body = status, body
        super().__init__(text)


def call(base: str, method: str, path: str, bearer: str, body: Optional[dict] = None, timeout: float = 30) -> tuple:
    """(status, JSON) of one call; Problem for a 4xx/5xx answer, DemoError when none comes."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json"})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    try:
        with opener.open(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            problem = json.loads(raw)
        except ValueError:
            problem = {}
        text = f"{method} {path}: {error.code} {problem.get('reason', '?')}: {problem.get('detail') or raw[:200]!r}"
        raise Problem(error.code, problem, text) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DemoError(f"{method} {base}{path}: no answer ({error})") from None


def read_link(maildir: str, message_id: str) -> tuple:
    """(the e-mail, its deep link) of the message ``message_id`` in the VOS's Maildir."""
    try:
        box = mailbox.Maildir(maildir, factory=None, create=False)
        messages = [email.message_from_bytes(box.get_bytes(key), policy=email.policy.default) for key in box.keys()]
    except (OSError, mailbox.Error) as error:
        raise DemoError(f"the VOS's mail outbox {maildir}: {error}") from None
    found = [m for m in messages if m["Message-ID"] == message_id]
    if not found:
        raise DemoError(f"no e-mail {message_id} in {maildir} (it holds {len(messages)})")
    message = found[0]
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    links = [line.strip() for line in text.splitlines() if DEEP_LINK.match(line.strip())]
    if len(links) != 1:
        raise DemoError(f"e-mail {message_id}: {len(links)} deep links (spaak://pair?vin=…&token=…) in its body, 1 expected")
    return message, links[0]


def fleet_rows(vehicles: list) -> list:
    """Table rows of the Vehicle objects of GET /v1/fleet."""
    rows = []
    for v in vehicles:
        identity, verifier, password, owner = v["vehicleIdentity"], v["verifier"], v["password"], v["ownerPairing"]
        last = v.get("lastUseCase")
        last_text = "-"
        if last:
            last_text = f"{last['useCase']} {last['message']} {last['outcome']}"
            if last.get("error"):
                last_text += f" ({last['error']})"
        channel = f" via {password['channel']}" if password.get("channel") else ""
        keys = "".join(f" {what} {owner[field]}" for what, field in (("active", "activeOwnerKeyId"),
                                                                       ("terminated", "terminatedOwnerKeyId"))
                       if owner.get(field))
        rows.append((v["serial"], v.get("vin") or "-", v.get("owner") or "-", (v.get("drmUUID") or "-")[:12],
                     f"{identity['state']} ({identity['certificates']})", f"{verifier['state']} ({verifier['count']})",
                     password["state"] + channel, owner["state"] + keys, last_text))
    return rows


def fleet_table(vehicles: list) -> str:
    """The fleet view as text: one row per vehicle."""
    head = ("serial", "VIN", "owner", "drmUUID", "[K]", "verifier (count)", "password", "owner pairing",
            "last use case")
    rows = fleet_rows(vehicles)
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]

    def fmt(row) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def maildir_path(run_dir: str, number: int) -> str:
    """The mail outbox of vehicle ``number``'s VOS."""
    return os.path.join(run_dir, f"mail-{number}")

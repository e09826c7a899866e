"""README.md's curl session of OP-01a ("### The owner services over HTTP (OP-01a with curl)")
stays true: its ```sh block runs line by line in bash and every answer is compared with the
``#`` lines shown under its command.

Commands run as written but for ``.build/release/`` → the binaries' folder ($SPAAK_BIN_DIR,
else .build/release, else .build/debug), ``/tmp/vos`` → a pytest folder, port 8080 → a free
port, and values a shown answer made up (the delivery id) → the server's. The ``… &`` line runs
in the background until the end (waited for: its "HTTP on" line, ``GET /health``);
``NAME=$(…)`` sets a variable for the commands after it.

Shown answers: ``# 409 {…}`` = HTTP status and JSON body; ``# {…}`` = JSON with a 2xx status;
anything else = text, exactly. In JSON, ``…`` among the members means "and more" (without it
the members must be exactly those shown), ``"key":…`` "present, any value". Values compare as
shown with timestamps and 32-hex ids masked (their form kept) and ``password`` = 8 digits. The
note ``# (asked again … the same password and delivery id come back)`` runs the previous
command again: the same answer, with the same ``password`` and ``deliveryId``.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from apiserver import ROOT, binary

SECTION = "### The owner services over HTTP (OP-01a with curl)"
STATUS_MARK = "\nREADME-TEST-HTTP-STATUS "
ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=\$\(")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
SAME_AS_BEFORE = ("password", "deliveryId")


class AnyValue:
    """``"key":…`` in a shown answer: the member is there, its value is not shown."""


class Partial(dict):
    """A shown JSON object with ``…`` among its members: the answer may have more."""


@dataclass
class Step:
    command: str
    shown: list
    repeat: bool = False


@dataclass
class Outcome:
    returncode: int
    text: str
    status: Optional[int]

def readme_block(text: str) -> list:
    """The lines of the first ```sh block after the section's heading."""
    lines = [line.rstrip() for line in text.splitlines()]
    assert SECTION in lines, f"README.md has no heading {SECTION!r}"
    opening = lines.index("```sh", lines.index(SECTION)) if "```sh" in lines[lines.index(SECTION):] else None
    assert opening is not None, f"no ```sh block after {SECTION!r}"
    assert "```" in lines[opening + 1:], "the ```sh block is not closed"
    return lines[opening + 1:lines.index("```", opening + 1)]


def parse_steps(block: list) -> list:
    """Commands (``\\``-continued lines joined) with the ``#`` lines shown under each."""
    steps: list = []
    lines = iter(block)
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comment = stripped[1:].strip()
            assert steps, f"a shown answer before any command: {line}"
            if comment.startswith("("):
                assert "asked again" in comment and "the same password and delivery id" in comment, \
                    f"a note this test does not know how to check (teach it): {line}"
                steps.append(Step(steps[-1].command, steps[-1].shown, repeat=True))
            else:
                steps[-1].shown.append(comment)
            continue
        while stripped.endswith("\\"):
            stripped = stripped[:-1].rstrip() + " " + next(lines).strip()
        steps.append(Step(stripped, []))
    return steps


def parse_shown(text: str):
    """A shown JSON value where ``…`` may stand for members or for a member's value."""
    decoder = json.JSONDecoder()

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\n,":
            i += 1
        return i

    def value(i: int):
        i = skip(i)
        if text.startswith("…", i):
            return AnyValue(), i + 1
        if text[i] == "{":
            return members(i + 1)
        return decoder.raw_decode(text, i)

    def members(i: int):
        result, partial = {}, False
        while True:
            i = skip(i)
            assert i < len(text), f"unterminated object in the shown answer: {text}"
            if text[i] == "}":
                return (Partial(result) if partial else result), i + 1
            if text.startswith("…", i):
                partial, i = True, i + 1
                continue
            key, i = decoder.raw_decode(text, i)
            i = skip(i)
            assert text[i] == ":", f"no ':' after {key!r} in the shown answer: {text}"
            result[key], i = value(i + 1)

    parsed, end = value(0)
    assert skip(end) == len(text), f"text after the shown JSON: {text[end:]}"
    return parsed


def expected(step: Step):
    """(status or None, JSON or None, text) of the answer shown under ``step``."""
    text = " ".join(step.shown)
    match = re.fullmatch(r"(\d{3}) (\{.*\})", text)
    if match:
        return int(match.group(1)), parse_shown(match.group(2)), text
    if text.startswith("{"):
        return None, parse_shown(text), text
    return None, None, "\n".join(step.shown)

def normalize(key: str, value):
    if not isinstance(value, str):
        return value
    if key == "password":
        return "<8 digits>" if re.fullmatch(r"[0-9]{8}", value) else value
    value = TIME.sub("<time>", value)
    value = re.sub(r"\b[0-9a-f]{32}\b", "<hex32>", value)
    return re.sub(r"\b[0-9A-F]{32}\b", "<HEX32>", value)


def differences(shown, actual, where: str = "") -> list:
    if isinstance(shown, AnyValue):
        return []
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{where or 'answer'}: expected an object, got {actual!r}"]
        found = []
        missing = sorted(set(shown) - set(actual))
        extra = [] if isinstance(shown, Partial) else sorted(set(actual) - set(shown))
        if missing:
            found.append(f"{where or 'answer'}: members shown but not answered: {missing}")
        if extra:
            found.append(f"{where or 'answer'}: members answered but not shown (and no …): {extra}")
        for key in sorted(set(shown) & set(actual)):
            found += differences(normalize(key, shown[key]) if isinstance(shown[key], str) else shown[key],
                                 normalize(key, actual[key]), f"{where}.{key}")
        return found
    if isinstance(shown, list):
        if not isinstance(actual, list) or len(actual) != len(shown):
            return [f"{where}: expected {shown!r}, got {actual!r}"]
        return [d for i, (s, a) in enumerate(zip(shown, actual)) for d in differences(s, a, f"{where}[{i}]")]
    if type(shown) is not type(actual) or shown != actual:
        return [f"{where}: shown {shown!r}, answered {actual!r}"]
    return []


def masked(answer) -> str:
    """An answer fit for a failure message (no password in the test's output)."""
    if isinstance(answer, dict) and isinstance(answer.get("password"), str):
        answer = {**answer, "password": "<password>"}
    return json.dumps(answer)


def check(steps: list, outcomes: list) -> list:
    """Every difference between the shown answers and the outcomes of the steps."""
    problems, previous = [], None
    for step, outcome in zip(steps, outcomes):
        name = step.command if not step.repeat else f"(again) {step.command}"
        if outcome.returncode != 0:
            problems.append(f"{name}\n  exited {outcome.returncode}: {outcome.text}")
            continue
        if not step.shown:
            continue
        status, shown, text = expected(step)
        if shown is None:
            if outcome.text.strip() != text:
                problems.append(f"{name}\n  shown:    {text!r}\n  answered: {outcome.text.strip()!r}")
            continue
        if (outcome.status != status) if status is not None else not 200 <= (outcome.status or 0) < 300:
            problems.append(f"{name}\n  HTTP status {outcome.status}, shown {status or '2xx'}")
        try:
            answer = json.loads(outcome.text)
        except ValueError:
            problems.append(f"{name}\n  not JSON: {outcome.text!r}")
            continue
        problems += [f"{name}\n  {d}\n  answered: {masked(answer)}" for d in differences(shown, answer)]
        if step.repeat and isinstance(previous, dict) and isinstance(answer, dict):
            for key in SAME_AS_BEFORE:
                if answer.get(key) != previous.get(key):
                    problems.append(f"{name}\n  {key} differs from the previous answer")
        previous = answer
    return problems

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_server(server: subprocess.Popen, log: Path, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}"
    while f"HTTP on {url}" not in log.read_text(errors="replace"):
        assert server.poll() is None, f"the server exited ({server.returncode}):\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no 'HTTP on {url}' line in {timeout} s:\n{log.read_text()}"
        time.sleep(0.1)
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"GET /health did not answer 200 in {timeout} s:\n{log.read_text()}"
        time.sleep(0.1)


def run_session(steps: list, folder: Path) -> list:
    """Runs the steps in bash, in order; the outcome of each (the background server's: its start)."""
    bin_dir = Path(binary("spaak-cloud")).parent
    port = free_port()
    substitutions = {".build/release/": f"{bin_dir}/", "/tmp/vos": str(folder), "127.0.0.1:8080": f"127.0.0.1:{port}"}
    env = dict(os.environ)
    server, outcomes = None, []
    try:
        for step in steps:
            command = step.command
            for old, new in substitutions.items():
                command = command.replace(old, new)
            if command.endswith("&") and not command.endswith("&&"):
                assert server is None, "more than one background command"
                log = folder / "serve.log"
                server = subprocess.Popen(["bash", "-c", "exec " + command[:-1]], env=env, stdin=subprocess.DEVNULL,
                                          stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
                wait_for_server(server, log, port)
                outcomes.append(Outcome(0, "", None))
                continue
            assignment = ASSIGNMENT.match(command)
            if assignment:
                command += f'\nprintf %s "${assignment.group(1)}"'
            elif command.startswith("curl "):
                command += f" -w '{STATUS_MARK}%{{http_code}}'"
            result = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=120)
            text, status = result.stdout, None
            if STATUS_MARK in text:
                text, code = text.rsplit(STATUS_MARK, 1)
                status = int(code)
            if assignment and result.returncode == 0:
                env[assignment.group(1)] = text
            outcomes.append(Outcome(result.returncode, text if result.returncode == 0 else text + result.stderr, status))
            # A value the README made up (a delivery id) stands for the one the server answered.
            shown = expected(step)[1] if step.shown else None
            if isinstance(shown, dict) and result.returncode == 0:
                try:
                    answer = json.loads(text)
                except ValueError:
                    answer = None
                for key, value in (answer.items() if isinstance(answer, dict) else ()):
                    made_up = shown.get(key)
                    if isinstance(made_up, str) and made_up != value and normalize(key, made_up) == normalize(key, value):
                        substitutions[made_up] = value
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
    return outcomes


def test_readme_curl_session(tmp_path):
    steps = parse_steps(readme_block((ROOT / "README.md").read_text()))
    assert any(step.command.endswith("&") for step in steps), "the block starts no server"
    assert sum(1 for step in steps if step.shown) >= 5, "the block shows fewer answers than OP-01a has steps"
    outcomes = run_session(steps, tmp_path)
    problems = check(steps, outcomes)
    assert not problems, "README.md's curl session differs from what the server does:\n\n" + "\n\n".join(problems)

    # The comparison is not vacuous: shown answers changed in a copy of the block do not pass.
    block = readme_block((ROOT / "README.md").read_text())
    for old, new in (('"handedOutAt"', '"handedOut"'), ('"state":"not-sent"', '"state":"sent"'),
                     ('"reason":"not-owner"', '"reason":"not-the-owner"'), ("# 409 ", "# 400 "),
                     ('"title":"The pairing password was already delivered"', '"title":"Already delivered"'),
                     ("alice <alice@", "alice <bob@"), (',"vin":"ZFA25000000000001"}', "}")):
        changed = [line.replace(old, new) if line.lstrip().startswith("#") else line for line in block]
        assert changed != block, f"{old!r} is no longer in the block's answers: update this check"
        assert check(parse_steps(changed), outcomes), f"changing {old!r} to {new!r} in the shown answers went unnoticed"

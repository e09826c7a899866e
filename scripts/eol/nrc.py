"""Negative response codes (ISO 14229-1) in words, with what they mean for the EOL tester."""
from __future__ import annotations

from udsoncan import Response

#: What a code means in the plant, per ICD 5.1/5.3/5.5 (short, for the module table).
EXPLANATIONS = {
    0x10: "the module rejected the request",
    0x11: "the module does not know this service",
    0x12: "the module does not know this sub-function",
    0x13: "wrong message length or format",
    0x14: "the response would be too long",
    0x21: "the module is busy, repeat the request",
    0x22: "conditions not correct: no value yet, plant already locked, or prerequisites missing",
    0x24: "request sequence error: sendKey without a fresh seed",
    0x31: "request out of range: unknown identifier, or data (a certificate) the module's checks refused",
    0x33: "security access denied: the module is locked, unlock it first",
    0x35: "invalid key: wrong K_plant (--plant-key)?",
    0x36: "exceeded number of attempts: third wrong key, security access delayed for 10 s",
    0x37: "required time delay not expired: wait 10 s after three wrong keys",
    0x72: "general programming failure: the module could not write its secure store",
    0x78: "response pending: the module is still working",
    0x7E: "sub-function not supported in the active session",
    0x7F: "service not supported in the active session (extended session needed)",
}


def nrc_name(code: int) -> str:
    """The ISO 14229-1 name of an NRC (udsoncan's spelling), or ``UnknownNRC``."""
    name = Response.Code.get_name(code)
    return name if name and not name.isdigit() else "UnknownNRC"


def describe_nrc(code: int) -> str:
    """``NRC 0x33 SecurityAccessDenied (security access denied: ...)``."""
    text = f"NRC 0x{code:02X} {nrc_name(code)}"
    explanation = EXPLANATIONS.get(code)
    return f"{text} ({explanation})" if explanation else text

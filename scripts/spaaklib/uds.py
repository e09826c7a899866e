"""UDS with the module (ICD 5): its DIDs, security access, udsoncan's client configuration
(every DID as raw bytes) and kernel ISO-TP connections (normal addressing, 11-bit ids)."""
from __future__ import annotations

import socket
from typing import Optional

import isotp
import udsoncan
import udsoncan.configs
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC
from udsoncan.connections import IsoTPSocketConnection

#: ICD 4: classic CAN frames are padded with 0xCC.
PADDING = 0xCC

#: The root certificates of RP-01 and their DIDs (ICD 5.2), in chain order.
ROOT_DIDS = {"J": 0xD110, "J1": 0xD111, "J_PhysicalKey": 0xD112, "Z1": 0xD113, "ZZ2": 0xD114}
DID_SERIAL, DID_VIN, DID_SOFTWARE_VERSION = 0xF18C, 0xF190, 0xF195
DID_CSR, DID_ECU_CERTIFICATE = 0xD100, 0xD101
DID_PROVISIONING_STATUS, DID_K_CERTIFICATE, DID_DRM_UUID, DID_VERIFIER = 0xD120, 0xD121, 0xD122, 0xD123
DID_OWNER_PAIRING, DID_OWNER_KEY = 0xD124, 0xD125
#: CAN controller and bus counters (docs/ICD-CHOICES.md), 23 bytes.
DID_CAN_BUS = 0xD130
#: Every DID of ICD 5.2, and 0xD130.
DIDS = (DID_SERIAL, DID_VIN, DID_SOFTWARE_VERSION, DID_CSR, DID_ECU_CERTIFICATE, *ROOT_DIDS.values(),
        DID_PROVISIONING_STATUS, DID_K_CERTIFICATE, DID_DRM_UUID, DID_VERIFIER, DID_OWNER_PAIRING, DID_OWNER_KEY,
        DID_CAN_BUS)

#: Routines (ICD 5.4).
RID_GENERATE_KEY, RID_LOCK_PLANT, RID_CHECK_CERTIFICATES, RID_OWNER_CHANGE = 0xD200, 0xD201, 0xD202, 0xD203
RID_PAIRING_START, RID_PAIRING_FAILED = 0xF010, 0xF011

#: The documented default K_plant of the simulation (ICD 5.3).
DEFAULT_PLANT_KEY_HEX = "000102030405060708090a0b0c0d0e0f"
DEFAULT_PLANT_KEY = bytes.fromhex(DEFAULT_PLANT_KEY_HEX)


def parse_plant_key(text: str) -> bytes:
    """K_plant from 32 hex digits (spaces and a 0x prefix are tolerated); ValueError otherwise."""
    cleaned = text.strip().replace(" ", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        key = bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError(f"plant key '{text}' is not hexadecimal") from None
    if len(key) != 16:
        raise ValueError(f"plant key must be 16 bytes (32 hex digits), got {len(key)}")
    return key


def aes_cmac(key: bytes, message: bytes) -> bytes:
    """AES-CMAC (RFC 4493 / NIST SP 800-38B) of ``message`` under ``key``."""
    mac = CMAC(algorithms.AES(key))
    mac.update(bytes(message))
    return mac.finalize()


def security_key(plant_key: bytes, seed: bytes) -> bytes:
    """The sendKey payload for a requestSeed answer (ICD 5.3): AES-128-CMAC(K_plant, seed)."""
    return aes_cmac(plant_key, seed)


def udsoncan_security_algo(level, seed, params):
    """udsoncan's ``security_algo`` hook; ``params`` is K_plant (bytes)."""
    return security_key(params, seed)


class RawCodec(udsoncan.DidCodec):
    """A DID's bytes as they are (the length is whatever the module sends)."""

    def encode(self, value):
        return bytes(value)

    def decode(self, payload):
        return bytes(payload)

    def __len__(self):
        raise udsoncan.DidCodec.ReadAllRemainingData


def client_config(plant_key: bytes = DEFAULT_PLANT_KEY, *, p2_timeout: float, p2_star_timeout: float,
                  request_timeout: float, use_server_timing: bool = False, dids=DIDS) -> dict:
    """udsoncan's client configuration: ``dids`` read and written as raw bytes, security
    access with K_plant, the given client timing (a module busy in its store, or on an
    emulated machine, can answer later than the P2 it announces)."""
    cfg = dict(udsoncan.configs.default_client_config)
    cfg.update({
        "data_identifiers": {did: RawCodec for did in dids},
        "security_algo": udsoncan_security_algo,
        "security_algo_params": plant_key,
        "request_timeout": request_timeout,
        "p2_timeout": p2_timeout,
        "p2_star_timeout": p2_star_timeout,
        "use_server_timing": use_server_timing,
        "exception_on_negative_response": True,
    })
    return cfg


def kernel_isotp_available() -> bool:
    """The kernel offers CAN_ISOTP sockets (module can-isotp loaded or built in)."""
    if not hasattr(socket, "CAN_ISOTP"):
        return False
    try:
        socket.socket(socket.AF_CAN, socket.SOCK_DGRAM, socket.CAN_ISOTP).close()
        return True
    except OSError:
        return False


def kernel_connection(interface: str, request_id: int, response_id: Optional[int] = None,
                      padding: Optional[int] = PADDING, name: Optional[str] = None) -> IsoTPSocketConnection:
    """A udsoncan connection on a kernel ISO-TP socket (response id: request id + 8 unless
    given); frames padded with ``padding`` (None: not padded); flow control BS 0, STmin 0."""
    rxid = request_id + 8 if response_id is None else response_id
    addr = isotp.Address(isotp.AddressingMode.Normal_11bits, txid=request_id, rxid=rxid)
    sock = isotp.socket(timeout=0.1)
    if padding is not None:
        sock.set_opts(txpad=padding)
    sock.set_fc_opts(bs=0, stmin=0)
    return IsoTPSocketConnection(interface, addr, tpsock=sock, name=name)

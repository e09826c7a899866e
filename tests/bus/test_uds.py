"""ICD 5.1/5.2 with a udsoncan client over the kernel's ISO-TP socket."""
import pytest
from udsoncan.client import Client
from udsoncan.exceptions import NegativeResponseException

from spaakbus import PEER_IFACE
from spaaklib.uds import client_config, kernel_connection

pytestmark = pytest.mark.realcan


def connection(txid=0x7A0, rxid=0x7A8):
    """Unpadded frames (ICD 4: received frames need only cover their data)."""
    return kernel_connection(PEER_IFACE, txid, rxid, padding=None)


def client(conn):
    # udsoncan's default timing otherwise: P2* 5 s, the server's P2 once it announced one
    return Client(conn, config=client_config(request_timeout=5, p2_timeout=1, p2_star_timeout=5,
                                             use_server_timing=True))


def raw(conn, request: bytes) -> bytes:
    conn.empty_rxqueue()
    conn.send(request)
    return conn.wait_frame(timeout=3, exception=True)


def test_session_and_identification(module_with_vin):
    with client(connection()) as c:
        resp = c.change_session(3)
        assert resp.positive and resp.original_payload == bytes.fromhex("5003 0032 01F4")
        assert c.read_data_by_identifier(0xF18C).service_data.values[0xF18C] == module_with_vin.serial.encode()
        version = c.read_data_by_identifier(0xF195).service_data.values[0xF195]
        assert version and version.isascii()
        assert c.read_data_by_identifier(0xF190).service_data.values[0xF190] == b"ZFA25000001234567"
        assert c.change_session(1).original_payload == bytes.fromhex("5001 0032 01F4")
        c.tester_present()


def test_vin_unknown_answers_conditions_not_correct(module):
    with client(connection()) as c:
        with pytest.raises(NegativeResponseException) as e:
            c.read_data_by_identifier(0xF190)
        assert e.value.response.code == 0x22


@pytest.mark.parametrize("request_hex,nrc", [
    ("BA", 0x11),                    # unknown service
    ("22F1FF", 0x31),                # unknown DID
    ("22F1", 0x13),                  # wrong length
    ("1003FF", 0x13),                # wrong length for session control
    ("1077", 0x12),                  # unknown session
    ("2701", 0x7F),                  # security access in the default session
])
def test_negative_responses(module, request_hex, nrc):
    conn = connection()
    with conn.open():
        request = bytes.fromhex(request_hex)
        assert raw(conn, request) == bytes([0x7F, request[0], nrc])


def test_functional_request_and_suppression(module):
    conn = connection(txid=0x7DF, rxid=0x7A8)
    with conn.open():
        # Single-frame answers (a multi-frame answer would need the tester's flow control
        # on the physical id, which a functional kernel socket cannot send).
        assert raw(conn, bytes.fromhex("1001")) == bytes.fromhex("5001003201F4")
        assert raw(conn, bytes.fromhex("3E00")) == bytes.fromhex("7E00")
        conn.send(bytes.fromhex("BA"))           # unknown service: no answer to a functional request
        assert conn.wait_frame(timeout=0.5) is None
        conn.send(bytes.fromhex("3E80"))         # suppressed positive response
        assert conn.wait_frame(timeout=0.5) is None

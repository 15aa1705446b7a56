import socket

import pytest


def test_non_loopback_connect_is_refused() -> None:
    s = socket.socket()
    try:
        with pytest.raises(OSError):
            s.connect(("192.0.2.1", 443))  # TEST-NET-1: never a real host
    finally:
        s.close()


def test_loopback_connect_is_allowed() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.socket()
    try:
        client.connect(server.getsockname())
    finally:
        client.close()
        server.close()

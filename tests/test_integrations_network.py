"""The test run cannot reach the network: only loopback connections and names resolve."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests import conftest


def test_connections_beyond_loopback_are_refused_before_any_packet() -> None:
    reached = []
    connect = conftest._guard(lambda sock, addr: reached.append(addr))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(conftest.NetworkBlocked, match="203.0.113.7:443"):
            connect(s, ("203.0.113.7", 443))
        connect(s, ("127.0.0.1", 9))
    assert reached == [("127.0.0.1", 9)]  # loopback goes through to the real connect
    assert socket.socket.connect.__qualname__.startswith("_guard")
    assert socket.socket.connect_ex.__qualname__.startswith("_guard")


def test_names_other_than_localhost_do_not_resolve() -> None:
    with pytest.raises(conftest.NetworkBlocked, match="api.github.com"):
        socket.getaddrinfo("api.github.com", 443)
    with pytest.raises(httpx.ConnectError, match="only loopback"):
        httpx.get("https://api.pagerduty.example/v2/enqueue", timeout=1)
    assert socket.getaddrinfo("127.0.0.1", 80)

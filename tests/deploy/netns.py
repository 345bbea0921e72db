"""App hosts of the test's own: network namespaces on a bridge, one veth pair each.

    host side:  bridge fmgb<tag>  10.201.N.1/24   PostgreSQL listens here
    namespaces: fmg-<tag>-h1      10.201.N.11/24  veth fmg<tag>n1, its peer fmg<tag>h1 bridged
                fmg-<tag>-h2      10.201.N.12/24  ...

N is a /24 no interface of the machine uses. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN):
elsewhere the test is skipped with the reason, except under CI=true, where it fails.
Everything made is removed when the context manager exits, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.deploy.support import find_binary, under_ci


@dataclass(frozen=True)
class Host:
    namespace: str
    address: str


@dataclass(frozen=True)
class HostNetwork:
    bridge: str
    gateway: str  # the host side's address on the bridge
    subnet: str
    hosts: tuple[Host, ...]


def _unavailable(reason: str) -> None:
    if under_ci():
        pytest.fail(f"CI must be able to make network namespaces (it runs as root): {reason}")
    pytest.skip(f"cannot make network namespaces here: {reason}")


def _free_subnet(ip: str) -> int:
    used = subprocess.run(
        [ip, "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    for third in range(201, 255):
        if f" 10.201.{third}." not in used:
            return third
    raise AssertionError("no free 10.201.N.0/24 for the test's hosts")


@contextlib.contextmanager
def host_network(count: int) -> Iterator[HostNetwork]:
    if os.geteuid() != 0:
        _unavailable("they need root (ip netns add); CI runs as root")
    ip = find_binary("ip", required_in_ci=True, package="iproute2")
    tag = str(os.getpid() % 100000)
    third = _free_subnet(ip)
    network = HostNetwork(
        bridge=f"fmgb{tag}",
        gateway=f"10.201.{third}.1",
        subnet=f"10.201.{third}.0/24",
        hosts=tuple(
            Host(f"fmg-{tag}-h{i}", f"10.201.{third}.{10 + i}") for i in range(1, count + 1)
        ),
    )

    def run(*args: str) -> None:
        done = subprocess.run([ip, *args], capture_output=True, text=True, timeout=10, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")

    made_bridge = False
    made: list[str] = []
    try:
        try:
            run("link", "add", network.bridge, "type", "bridge")
            made_bridge = True
            run("addr", "add", f"{network.gateway}/24", "dev", network.bridge)
            run("link", "set", network.bridge, "up")
            for i, host in enumerate(network.hosts, start=1):
                outside, inside = f"fmg{tag}h{i}", f"fmg{tag}n{i}"
                run("netns", "add", host.namespace)
                made.append(host.namespace)
                run("link", "add", outside, "type", "veth", "peer", "name", inside)
                run("link", "set", outside, "master", network.bridge, "up")
                run("link", "set", inside, "netns", host.namespace)
                run("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", inside)
                run("-n", host.namespace, "link", "set", inside, "up")
                run("-n", host.namespace, "link", "set", "lo", "up")
        except RuntimeError as error:
            _unavailable(str(error))
        yield network
    finally:
        # A namespace takes its veth end, and so the pair, with it; the bridge goes last.
        for namespace in made:
            with contextlib.suppress(RuntimeError):
                run("netns", "delete", namespace)
        if made_bridge:
            with contextlib.suppress(RuntimeError):
                run("link", "delete", network.bridge)

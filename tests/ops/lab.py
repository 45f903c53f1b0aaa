"""A lab of nodes for the ``dsprep up`` tests: one network namespace per node on a bridge
the test creates (its own address, its own nic), a real OpenSSH ``sshd`` (Debian's
openssh-server) in each, and the fake docker/npu-smi/hccn_tool/vllm of
``tests/launch/fakenode.py`` on each node's PATH (sshd's ``SetEnv``).

Network namespaces need root; without it the nodes are sshd servers on distinct loopback
addresses (127.0.0.x) of this namespace instead, and the lab says so in ``mode``.
Everything the lab starts is ended by :meth:`Lab.close`."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.launch.fakenode import FakeNode

SSHD = Path("/usr/sbin/sshd")
_LABS = itertools.count()


def netns_possible() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"dsprep-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, check=False)
    if made.returncode != 0:
        return False
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True, check=False)
    return True


@dataclass
class LabNode:
    name: str
    ip: str
    nic: str
    fake: FakeNode
    netns: str | None
    sshd: subprocess.Popen[bytes] | None = None
    port: int = 22


def _ip(*args: str, netns: str | None = None) -> None:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    subprocess.run([*prefix, "ip", *args], check=True, capture_output=True)


@dataclass
class Lab:
    root: Path
    nodes: list[LabNode] = field(default_factory=list)
    mode: str = "netns"
    bridge: str = ""
    made_netns: list[str] = field(default_factory=list)
    token: str = field(default_factory=lambda: f"{os.getpid() % 1000:03d}{next(_LABS) % 100:02d}")

    @property
    def key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def ssh_config(self) -> Path:
        return self.root / "ssh_config"

    def start(self, count: int, scenarios: dict[str, dict[str, object]]) -> None:
        if not SSHD.exists():
            raise RuntimeError(
                f"{SSHD} is missing: apt-get install openssh-server (.ci/run installs it)"
            )
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation folder
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)], check=True
        )
        self.ssh_config.write_text(
            f"Host *\n  User root\n  IdentityFile {self.key}\n  IdentitiesOnly yes\n"
            "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
            "  ConnectTimeout 5\n"
        )
        self.mode = "netns" if netns_possible() else "loopback"
        subnet = f"10.231.{20 + os.getpid() % 200}"
        if self.mode == "netns":
            self.bridge = f"dsbr{self.token}"
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{subnet}.1/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        for i in range(count):
            name = f"node{i}"
            tools = scenarios.get(name, {}).pop("tools", None)
            home = self.root / name
            fake = FakeNode.create(home, **({"tools": tools} if tools else {}))
            fake.scenario(**scenarios.get(name, {}))
            if self.mode == "netns":
                node = self._netns_node(name, i, subnet, fake)
            else:
                node = LabNode(name, f"127.0.0.{10 + i}", "lo", fake, None, port=_free_port())
            self.nodes.append(node)
            self._sshd(node)
        for node in self.nodes:
            self._wait_ssh(node)

    def _netns_node(self, name: str, i: int, subnet: str, fake: FakeNode) -> LabNode:
        netns = f"dsprep-{self.token}-{name}"
        host_end, node_end = f"dsh{self.token}n{i}", f"dsn{self.token}n{i}"
        node = LabNode(name, f"{subnet}.{10 + i}", node_end, fake, netns)
        subprocess.run(["ip", "netns", "add", netns], check=True, capture_output=True)
        self.made_netns.append(netns)
        _ip("link", "add", host_end, "type", "veth", "peer", "name", node_end)
        _ip("link", "set", node_end, "netns", netns)
        _ip("link", "set", host_end, "master", self.bridge)
        _ip("link", "set", host_end, "up")
        _ip("link", "set", "lo", "up", netns=netns)
        _ip("addr", "add", f"{node.ip}/24", "dev", node_end, netns=netns)
        _ip("link", "set", node_end, "up", netns=netns)
        return node

    def _sshd(self, node: LabNode) -> None:
        home = node.fake.home
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / "hostkey")],
            check=True,
        )
        (home / "authorized_keys").write_text(Path(f"{self.key}.pub").read_text())
        env = node.fake.env()
        setenv = " ".join(f"{k}={v}" for k, v in env.items() if k != "LANG")
        (home / "sshd_config").write_text(
            f"Port {node.port}\nListenAddress {node.ip}\nHostKey {home / 'hostkey'}\n"
            f"PidFile {home / 'sshd.pid'}\nAuthorizedKeysFile {home / 'authorized_keys'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPrintMotd no\n"
            f"SetEnv {setenv}\n"
        )
        prefix = ["ip", "netns", "exec", node.netns] if node.netns else []
        log = open(home / "sshd.log", "wb")  # noqa: SIM115 - kept open for sshd's life
        node.sshd = subprocess.Popen(
            [*prefix, str(SSHD), "-D", "-e", "-f", str(home / "sshd_config")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait_ssh(self, node: LabNode) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((node.ip, node.port), 1):
                return
            time.sleep(0.1)
        raise RuntimeError(f"sshd of {node.name} did not listen on {node.ip}:{node.port}")

    def close(self) -> None:
        for node in self.nodes:
            node.fake.kill_all()
            if node.sshd is not None:
                node.sshd.kill()
                node.sshd.wait()
        for netns in self.made_netns:  # deleting it deletes its veth and the peer
            pids = subprocess.run(
                ["ip", "netns", "pids", netns], capture_output=True, text=True
            ).stdout.split()
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(int(pid), 9)
            subprocess.run(["ip", "netns", "delete", netns], capture_output=True)
        if self.bridge:
            subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port

"""The printers MCP server (``mcp_printers.py``) as its own process on a
loopback port: started, stopped and started again by tests of MCP tool
sources."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

_FAKE = Path(__file__).resolve().parent / "mcp_printers.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrinterHttpServer:
    """The fake printers server as its own process on one fixed loopback port."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/mcp"
        self._log = log
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, str(_FAKE), "--http", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise AssertionError(f"the MCP server exited: {self._log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"the MCP server never listened on {self.port}")

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None

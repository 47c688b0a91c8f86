"""Tiny HTTP/1.1 app servers on loopback for the nginx tests: they count what reaches them.

`answer` replies with what it received (JSON; 200, or the status ``statuses`` gives its
path, changeable while it runs) and keeps the connection alive;
`reset` reads the whole request, then resets the connection without a byte of answer
(a worker that crashed mid-request); `hang` reads the request and never answers.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import BinaryIO

from tests.harness.servers import LOOPBACK, free_port

BEHAVIOURS = ("answer", "reset", "hang")


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    connection: int  # which accepted connection carried it (keepalive reuses one)


@dataclass
class FakeAppServer:
    behaviour: str = "answer"
    name: str = "app"
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)  # path -> status; 200 otherwise
    connections: int = 0
    _listener: socket.socket | None = None
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def methods(self) -> list[str]:
        return [request.method for request in self.received]

    def start(self) -> FakeAppServer:
        assert self.behaviour in BEHAVIOURS, self.behaviour
        self._listener = socket.create_server((LOOPBACK, self.port))
        self._listener.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._listener is not None:
            self._listener.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client, self.connections), daemon=True).start()

    def _serve(self, client: socket.socket, number: int) -> None:
        reader: BinaryIO = client.makefile("rb")
        try:
            while not self._stopped.is_set():
                received = _read_request(reader, number)
                if received is None:
                    return
                self.received.append(received)
                if self.behaviour == "reset":
                    # SO_LINGER 0: close() sends RST instead of FIN, nginx sees "connection reset".
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if self.behaviour == "hang":
                    self._stopped.wait(60)
                    return
                client.sendall(self._answer(received))
        except OSError:
            return
        finally:
            reader.close()
            client.close()

    def _answer(self, received: Received) -> bytes:
        body = json.dumps({"server": self.name, "method": received.method, "headers": received.headers}).encode()
        status = self.statuses.get(received.path, 200)
        head = f"HTTP/1.1 {status} Answer\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body


def _read_request(reader: BinaryIO, number: int) -> Received | None:
    line = reader.readline()
    if not line.strip():
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (header := reader.readline().decode("latin-1").strip()) != "":
        name, value = header.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    reader.read(int(headers.get("content-length", "0")))
    return Received(method, path, headers, number)

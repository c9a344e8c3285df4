"""A small OpenAI-compatible HTTP server on 127.0.0.1 for the tests.

It answers ``POST /v1/embeddings`` and ``POST /v1/chat/completions`` as the
real API does, with deterministic embeddings, and plays a scripted queue of
faults first, so the real ``openai`` client can be tested over real HTTP
without a key or the internet.

Faults, one per request, taken from the front of the queue (``"ok"`` once it
is empty, or ``default``):

``"ok"``
    A normal answer.
``"429"``, ``"500"``, ``"503"``, ``"400"``, ...
    That status with an OpenAI-shaped error body.
``"timeout"``
    Sleep ``timeout_delay`` seconds before answering normally, so a client
    with a shorter timeout gives up.
``"malformed"``
    Status 200 with a truncated JSON body.
``"missing"``
    Status 200 with valid JSON that lacks the expected fields.
``"short"``
    Embeddings only: one vector fewer than texts sent.
``"ragged"``
    Embeddings only: the vectors have different lengths.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

__all__ = ["OpenAIServer", "fake_embedding"]


def fake_embedding(text: str, dim: int) -> np.ndarray:
    """The server's deterministic unit vector for ``text``."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dim)
    return vector / np.linalg.norm(vector)


class OpenAIServer:
    """OpenAI-compatible server in a background thread; a context manager.

    Parameters
    ----------
    dim : int
        Embedding length when the request does not ask for ``dimensions``.
    timeout_delay : float
        Seconds a ``"timeout"`` fault sleeps.

    Attributes
    ----------
    faults : collections.deque of str
        The scripted faults still to play.
    default : str
        The fault once the queue is empty.
    requests : list of (str, dict)
        Path and JSON body of every request received, in order.
    chat_replies : collections.deque of str
        Scripted message contents for chat completions; once empty, the
        server answers with a JSON list of fresh, distinct texts, as many as
        the prompt asks for ("exactly N").
    """

    def __init__(self, dim: int = 8, timeout_delay: float = 1.0):
        self.dim = dim
        self.timeout_delay = timeout_delay
        self.faults: collections.deque[str] = collections.deque()
        self.default = "ok"
        self.requests: list[tuple[str, dict]] = []
        self.chat_replies: collections.deque[str] = collections.deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._n_generated = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------
    def start(self) -> OpenAIServer:
        handler = type("Handler", (_Handler,), {"app": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    # -- scripting and counting --------------------------------------------
    def script(self, *faults: str) -> None:
        """Queue faults for the next requests."""
        self.faults.extend(faults)

    def count(self, endpoint: str | None = None) -> int:
        """Requests received, for one endpoint (``"embeddings"``, ...) or all."""
        with self._lock:
            if endpoint is None:
                return len(self.requests)
            return sum(path.endswith("/" + endpoint) for path, _ in self.requests)

    def embedded_texts(self) -> list[str]:
        """Every text sent to ``/v1/embeddings``, in order."""
        with self._lock:
            texts = []
            for path, body in self.requests:
                if path.endswith("/embeddings"):
                    value = body.get("input", [])
                    texts.extend([value] if isinstance(value, str) else value)
            return texts

    def _next_fault(self, path: str, body: dict) -> str:
        with self._lock:
            self.requests.append((path, body))
            return self.faults.popleft() if self.faults else self.default

    def _fresh_texts(self, n: int) -> list[str]:
        with self._lock:
            start, self._n_generated = self._n_generated, self._n_generated + n
        return [
            f"Subject: Offer number {k} just for you | Body: Save {5 + k % 40}% on item {k}."
            for k in range(start, start + n)
        ]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up on a "timeout" fault leaves a broken pipe
        # behind; it is expected and must not clutter the test output.
        pass


class _Handler(BaseHTTPRequestHandler):
    app: OpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(400, _error("invalid JSON body", "invalid_request_error"))
            return
        path = self.path.split("?")[0]
        if path not in ("/v1/embeddings", "/v1/chat/completions"):
            self._send(404, _error(f"unknown path {path}", "invalid_request_error"))
            return
        fault = self.app._next_fault(path, body)
        if fault == "timeout":
            # Interruptible, so stopping the server does not wait for it.
            if self.app._closing.wait(self.app.timeout_delay):
                return
            fault = "ok"
        if fault.isdigit():
            status = int(fault)
            self._send(status, _error(f"scripted status {status}", "server_error"))
        elif fault == "malformed":
            self._send(200, b'{"object": "list", "data": [{"embedding": [0.1, ')
        elif fault == "missing":
            self._send(200, {"object": "list", "unexpected": True})
        elif path == "/v1/embeddings":
            self._send(200, self._embeddings(body, fault))
        else:
            self._send(200, self._chat(body))

    def _embeddings(self, body: dict, fault: str) -> dict:
        texts = body["input"]
        if isinstance(texts, str):
            texts = [texts]
        dim = int(body.get("dimensions") or self.app.dim)
        vectors = [fake_embedding(text, dim) for text in texts]
        if fault == "short":
            vectors = vectors[:-1]
        elif fault == "ragged":
            vectors = [v if i % 2 == 0 else v[:-1] for i, v in enumerate(vectors)]
        if body.get("encoding_format") == "base64":
            encoded = [base64.b64encode(v.astype(np.float32).tobytes()).decode() for v in vectors]
        else:
            encoded = [v.tolist() for v in vectors]
        # Shuffled order, as the API does not promise any: clients sort by index.
        data = [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(encoded)]
        return {
            "object": "list",
            "data": data[::-1],
            "model": body.get("model", ""),
            "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
        }

    def _chat(self, body: dict) -> dict:
        if self.app.chat_replies:
            content = self.app.chat_replies.popleft()
        else:
            prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
            match = re.search(r"exactly (\d+)", prompt)
            content = json.dumps(self.app._fresh_texts(int(match.group(1)) if match else 3))
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def _send(self, status: int, payload) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _error(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}

"""The metrics endpoint of one system: ``/metrics`` for Prometheus, ``/rayka.json`` for ``rayka top``."""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["MetricsServer"]

log = logging.getLogger("rayka")


class MetricsServer:
    """An HTTP server on its own daemon thread; ``close()`` stops it (so does the system's shutdown)."""

    def __init__(self, system: Any, host: str, port: int, top: int = 10) -> None:
        try:
            from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
            from prometheus_client.registry import CollectorRegistry
        except ImportError:
            raise ImportError("serve_metrics needs prometheus_client: pip install 'rayka[metrics]'") from None
        from ._prometheus import RaykaCollector

        registry = CollectorRegistry(auto_describe=False)
        registry.register(RaykaCollector(system, top))
        self.system = system

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                path, _, query = self.path.partition("?")
                asked = urllib.parse.parse_qs(query).get("top", [""])[0]
                try:
                    if path == "/metrics":
                        body, kind = generate_latest(registry), CONTENT_TYPE_LATEST
                    elif path == "/rayka.json":
                        shown = int(asked) if asked.isdigit() else top  # ?top=N: the busiest N actors
                        body = json.dumps(system.metrics(min(shown, 10_000)).as_dict()).encode()
                        kind = "application/json"
                    else:
                        self.send_error(404, "rayka serves /metrics and /rayka.json")
                        return
                except Exception as error:  # noqa: BLE001 - a failed read answers 500, the server goes on
                    log.error("rayka: metrics endpoint: %r", error, exc_info=error)
                    self.send_error(500, f"{type(error).__name__}: {error!s}")
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: no line per scrape
                return

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        address = self._httpd.server_address
        self.host: str = str(address[0])
        self.port: int = int(address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"rayka-{system.name}-metrics",
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        """Stop serving and free the port (safe to call twice)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<MetricsServer {self.url} of {self.system.name!r}>"

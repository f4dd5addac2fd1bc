"""The baseline of the HTTP benchmark: a bare Flask JSON endpoint under the gunicorn configuration that
`directory serve` uses (`directory.server.options`), so the ratio measures the directory, not the server.

    python bench/bare_app.py --port 8091 [--workers 2]

GET /entry answers a constant JSON object (no database, no authentication, no audit).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Imported by gunicorn from the project root (`bench.bare_app:app`); keep bench/ itself off sys.path.
sys.path[:] = [str(Path(__file__).resolve().parent.parent)] + [
    p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402

from flask import Flask, Response, jsonify  # noqa: E402

from directory import server  # noqa: E402

BODY = {"id": "urn:cpd:bench.example:0", "name": "Bare Flask", "country": "DE", "version": 1}


def create() -> Flask:
    app = Flask("bare")

    @app.get("/entry")
    def entry() -> Response:
        return jsonify(BODY)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    server.Gunicorn(server.options(args.host, args.port, args.workers), create).run()


if __name__ == "__main__":
    main()

"""The `enforcegw` console script: the gateway's CLI with the console API mounted on the HTTP server of the
commands that start a gateway (run, demo). It lives here because the gateway never imports api;
`python -m gateway.cli` is the same CLI without the API."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from api.server import mount
from gateway.cli import main as gateway_main


def main(argv: Sequence[str] | None = None) -> int:
    return gateway_main(argv, http_mounts=[mount])


if __name__ == "__main__":
    sys.exit(main())

"""The CLI's domain errors: what an operator can fix (a config file, an input file, a coordinate, a store
that is down), as opposed to a bug. `gateway.cli.main` prints each as one line and exits 2, with no traceback;
anything else keeps its traceback, because then the gateway itself is wrong."""

from __future__ import annotations


class GatewayError(Exception):
    """Bad input or an unusable environment, said in one line. Subclass it or raise it with the message."""


class InputError(GatewayError):
    """An input file or argument a command cannot use; the message names it."""

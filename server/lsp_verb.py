"""The server's command-line verb: ``winnow lsp`` (stdio by default, or ``--tcp HOST:PORT``)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import socket
import sys
from typing import TYPE_CHECKING

from winnow.judge.base.errors import WinnowError

if TYPE_CHECKING:
    from winnow.server.app import WinnowServer


def parse_hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not (0 < int(port) < 65536):
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 127.0.0.1:2087), got {value!r}")
    return host or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback one (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def check_listen_address(host: str, allow_remote: bool) -> None:
    """Refuse a socket other machines can reach unless the user asked for it."""
    if allow_remote or is_loopback(host):
        return
    raise WinnowError(
        f"refusing to listen on {host}: it is not a loopback address, and the server reads files of your "
        "workspace that the client never sent (to put them in prompts), so anyone who can reach the socket "
        "could pull their text out through completions. Listen on 127.0.0.1 (and tunnel, e.g. ssh -L), or "
        "pass --allow-remote if the network is trusted"
    )


def run_lsp(args: argparse.Namespace) -> int:
    """Serve LSP on stdio (or ``args.tcp``) until the client exits."""
    from winnow.server.app import create_server  # pygls and the models' code load only for `winnow lsp`

    if args.tcp:
        check_listen_address(args.tcp[0], getattr(args, "allow_remote", False))
    return serve(create_server(), args)


def serve(server: WinnowServer, args: argparse.Namespace) -> int:
    """Serve ``server`` on stdio (or ``args.tcp``, checked by the caller) with the logging
    ``args`` asks for, until the client exits."""
    if args.log_file:
        handler = logging.FileHandler(args.log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
    # pygls logs every message at INFO and each malformed message with a traceback; the
    # server reports failures to the client once itself (window/logMessage).
    if not args.verbose:
        logging.getLogger("pygls").setLevel(logging.CRITICAL)
    from winnow.server.lsp.protocol import LenientInput

    if args.tcp:
        host, port = args.tcp
        try:
            server.start_tcp(host, port)
        except OSError as exc:
            raise WinnowError(f"cannot listen on {host}:{port}: {exc}") from exc
    else:
        # The protocol gets its own copy of stdout; fd 1 then points at stderr, so that a
        # stray print (Python's or a native library's) cannot corrupt the LSP stream.
        protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        sys.stdout = sys.stderr
        stdin = LenientInput(sys.stdin.buffer)
        server.protocol.lenient_input = stdin
        server.start_io(stdin, protocol_out)  # type: ignore[arg-type]
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "lsp",
        help="run the language server (stdio by default)",
        description="Runs Winnow's language server: inline completion, implement-with-best-of-N code actions "
        "and judge diagnostics. Settings come from the client (docs/settings.md).",
    )
    transport = p.add_mutually_exclusive_group()
    transport.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)")
    transport.add_argument("--tcp", type=parse_hostport, metavar="HOST:PORT", help="listen on a TCP socket instead")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --tcp on an address other machines can reach (the server reads workspace files into prompts)",
    )
    p.add_argument("--log-file", metavar="PATH", help="also write the server's log to PATH")
    p.set_defaults(func=run_lsp)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_lsp(argparse.Namespace(tcp=None, log_file=None, verbose=False, allow_remote=False)))

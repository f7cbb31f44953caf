"""``minibp data download``: fetch MNIST or Fashion-MNIST and verify its checksums."""

from __future__ import annotations

import argparse

from ._args import ParserSettings, directory_problem


def add_parser(sub: argparse._SubParsersAction, common: ParserSettings) -> None:
    """Add the 'data' sub-command's parser to ``sub``."""
    d = sub.add_parser("data", help="manage data sets", **common)
    dsub = d.add_subparsers(dest="data_command", required=True)
    dl = dsub.add_parser("download", help="download MNIST (or Fashion-MNIST) and verify its checksums", **common)
    dl.add_argument("name", nargs="?", default="mnist", choices=["mnist", "fashion-mnist"])
    dl.add_argument("--dir", metavar="PATH", help="target directory (default: MINIBP_DATA or the user cache)")


def check(args: argparse.Namespace) -> list[str]:
    """What is wrong with the arguments of 'minibp data download', one sentence each, found before any work."""
    problem = directory_problem("--dir", args.dir) if args.dir else None
    return [problem] if problem else []


def run(args: argparse.Namespace) -> int:
    """Run 'minibp data download' on checked arguments; return the exit status."""
    from ..data import download

    paths = download(args.name, directory=args.dir)
    for path in paths:
        print(path)
    return 0

"""The base of our management commands: every refusal is one line on stderr, exit non-zero."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class OpsCommand(BaseCommand):
    """A command whose argument errors are one line (argparse also prints the usage block).

    Errors raised as ``CommandError`` from ``handle`` are already one line with exit code 1;
    a bad or missing argument exits 2 with ``manage.py <command>: error: <reason>``.
    """

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # argparse's error() prints the usage before the reason; ``--help`` still shows it all.
        parser.print_usage = _no_usage
        return parser


def _no_usage(file=None) -> None:
    return None

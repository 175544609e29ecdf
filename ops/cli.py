"""`bedrock-proxy`: the one command operators run."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

import trio
import yaml
from sqlalchemy.engine import Engine

from ops.config import Settings
from ops.logging import configure_logging
from ops.settings import ConfigError, load_settings, masked
from storage.errors import StorageError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

Command = Callable[[argparse.Namespace, Settings], int]

DESCRIPTION = """\
SSO-authenticated, metered proxy in front of AWS Bedrock.

Configuration: defaults, then the YAML file (-c/--config, else $BEDROCK_CONFIG_FILE, else
./config.yaml when present), then BEDROCK_* environment variables (BEDROCK_SERVER__PORT=3000,
lists as JSON or comma-separated). jwt.secret (BEDROCK_JWT__SECRET) is required.
Exit codes: 0 success, 1 failure, 2 bad usage or configuration."""


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's own -c must not reset one given before the subcommand
    common.add_argument(
        "-c", "--config", metavar="FILE", default=argparse.SUPPRESS, help="YAML configuration file"
    )
    parser = argparse.ArgumentParser(
        prog="bedrock-proxy",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser(
        "serve",
        parents=[common],
        help="run the proxy until SIGTERM/SIGINT (graceful drain; a second signal forces)",
    )

    config = sub.add_parser("config", parents=[common], help="inspect the configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    config_sub.add_parser(
        "show", parents=[common], help="print the effective configuration, secrets masked"
    )

    init = sub.add_parser(
        "init",
        parents=[common],
        help="migrate the database to the latest schema and seed default model prices"
        " (idempotent; safe from several pods at once)",
    )
    init.add_argument("--skip-costs", action="store_true", help="do not seed model prices")
    init.add_argument(
        "--force-seed",
        action="store_true",
        help="reset every default price to the shipped value (prices you added stay)",
    )

    mig = sub.add_parser("migrate", parents=[common], help="database schema migrations")
    mig_sub = mig.add_subparsers(dest="migrate_command", required=True, metavar="ACTION")
    mig_sub.add_parser("up", parents=[common], help="apply every pending migration")
    down = mig_sub.add_parser("down", parents=[common], help="roll back migrations")
    down.add_argument("-n", type=int, default=1, metavar="N", help="how many (default 1)")
    mig_sub.add_parser("status", parents=[common], help="current and pending revisions")

    from ops.emulator import cli as emulator_cli

    emulator = sub.add_parser(
        "emulator",
        help="run the local Bedrock emulator (tests, benchmarks, trying the proxy without AWS)",
    )
    emulator_cli.add_arguments(emulator)

    from ops import cli_identity

    cli_identity.add_parsers(sub, common)

    from ops import cli_jobs

    cli_jobs.add_parsers(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    if args.command == "emulator":
        from ops.emulator import cli as emulator_cli

        return emulator_cli.run(args)
    try:
        settings = load_settings(config_file=getattr(args, "config", None))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings.logging)
    command = _COMMANDS[_command_key(args)]
    try:
        return command(args, settings)
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except BrokenPipeError:  # `bedrock-proxy ... | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _command_key(args: argparse.Namespace) -> str:
    sub = getattr(args, f"{args.command}_command", None)
    return f"{args.command} {sub}" if sub else str(args.command)


def _serve(_: argparse.Namespace, settings: Settings) -> int:
    from ops.serve import run_service

    return trio.run(run_service, settings)


def _config_show(_: argparse.Namespace, settings: Settings) -> int:
    yaml.safe_dump(masked(settings), sys.stdout, sort_keys=False)
    return EXIT_OK


def _engine(settings: Settings) -> Engine:
    from storage.database import create_engine

    return create_engine(settings.database)


def _init(args: argparse.Namespace, settings: Settings) -> int:
    from ops.database_init import initialise

    report = initialise(_engine(settings), args.skip_costs, args.force_seed)
    prices = (
        "skipped"
        if report.costs_skipped
        else f"{report.costs_added} added, {report.costs_updated} updated"
    )
    print(f"database at revision {report.revision}; model prices: {prices}")
    return EXIT_OK


def _migrate_up(_: argparse.Namespace, settings: Settings) -> int:
    from storage import migrate

    engine = _engine(settings)
    migrate.upgrade(engine)
    print(f"database at revision {migrate.status(engine).current}")
    return EXIT_OK


def _migrate_down(args: argparse.Namespace, settings: Settings) -> int:
    from storage import migrate

    engine = _engine(settings)
    migrate.downgrade(engine, args.n)
    print(f"database at revision {migrate.status(engine).current or 'base (empty)'}")
    return EXIT_OK


def _migrate_status(_: argparse.Namespace, settings: Settings) -> int:
    from storage import migrate

    state = migrate.status(_engine(settings))
    print(f"current: {state.current or 'base (empty)'}")
    print(f"head:    {state.head}")
    print(f"pending: {', '.join(state.pending) if state.pending else 'none'}")
    return EXIT_OK


def _identity_commands() -> dict[str, Command]:
    from ops import cli_identity

    return cli_identity.COMMANDS


def _jobs_commands() -> dict[str, Command]:
    from ops import cli_jobs

    return cli_jobs.COMMANDS


_COMMANDS: dict[str, Command] = {
    "serve": _serve,
    "config show": _config_show,
    "init": _init,
    "migrate up": _migrate_up,
    "migrate down": _migrate_down,
    "migrate status": _migrate_status,
    **_identity_commands(),
    **_jobs_commands(),
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""`bedrock-proxy users|keys|token`: operator bootstrap without an identity provider.

Changes go through the same services as the web routes, so they are audited and, with the
Redis cache, invalidate cached validations on every running instance within a second. With
`cache.backend: memory` a running server cannot hear this process: its cached validations of
a revoked key or a disabled user expire within `cache.validation_ttl` seconds instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from ops.config import Settings

if TYPE_CHECKING:
    from web.auth.identity import Identity

# the heavy imports (web, storage) happen inside the commands, so `bedrock-proxy --help`
# and the other commands stay quick to start

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
MAX_TOKEN_TTL = 30 * 86_400

T = TypeVar("T")
Command = Callable[[argparse.Namespace, Settings], int]


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `users`, `keys` and `token` to the CLI's subcommands."""
    users = sub.add_parser("users", parents=[common], help="manage users (bootstrap, state)")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    create = users_sub.add_parser(
        "create", parents=[common], help="create a local user (idempotent on email)"
    )
    create.add_argument("--email", required=True)
    create.add_argument("--name", help="display name")
    users_sub.add_parser("list", parents=[common], help="list users")
    state = users_sub.add_parser(
        "set-state", parents=[common], help="set a user's state (disabled users are refused)"
    )
    state.add_argument("--email", required=True)
    state.add_argument("--state", required=True, metavar="active|disabled|expired")

    keys = sub.add_parser("keys", parents=[common], help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    kc = keys_sub.add_parser(
        "create", parents=[common], help="create a key; prints only the key on stdout"
    )
    kc.add_argument("--email", required=True)
    kc.add_argument("--name", required=True)
    kc.add_argument("--expires-in-days", type=int, metavar="D", help="default: api_keys policy")
    kl = keys_sub.add_parser("list", parents=[common], help="list a user's keys")
    kl.add_argument("--email", required=True)
    kr = keys_sub.add_parser("revoke", parents=[common], help="revoke a key by id")
    kr.add_argument("--id", required=True, type=int, dest="key_id")

    token = sub.add_parser(
        "token", parents=[common], help="mint an access token for a user (prints only the token)"
    )
    token.add_argument("--email", required=True)
    token.add_argument(
        "--ttl", type=int, metavar="S", help="seconds (default jwt.access_token_ttl)"
    )


def _run(settings: Settings, work: Callable[[Identity], Awaitable[T]]) -> T:
    from ops.identity import identity_from_settings
    from storage import migrate
    from storage.cache import open_cache
    from storage.database import open_database

    async def main() -> T:
        async with open_database(settings.database) as db:
            await trio.to_thread.run_sync(migrate.require_current, db.engine)
            async with open_cache(settings.cache) as cache:
                return await work(identity_from_settings(db, cache, settings))

    return trio.run(main)


def _guarded(command: Callable[[argparse.Namespace, Settings], int]) -> Command:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        from storage.errors import LimitReached, NotFound
        from web.auth.errors import InvalidInput
        from web.auth.principal import AuthError

        try:
            return command(args, settings)
        except InvalidInput as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except (NotFound, LimitReached) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        except AuthError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return EXIT_FAILURE

    return run


def _memory_note(settings: Settings) -> None:
    if settings.cache.backend == "memory":
        print(
            "note: cache.backend is memory, so running servers apply this within"
            f" cache.validation_ttl ({settings.cache.validation_ttl} s); use redis for at once",
            file=sys.stderr,
        )


@_guarded
def users_create(args: argparse.Namespace, settings: Settings) -> int:
    """`users create --email E [--name N]`."""
    from web.auth.audit import CLI_CLIENT

    row, created = _run(settings, lambda i: i.users.create_local(args.email, args.name, CLI_CLIENT))
    print(f"{'created' if created else 'exists'}: user {row.id} {row.email} ({row.state})")
    return EXIT_OK


@_guarded
def users_list(_: argparse.Namespace, settings: Settings) -> int:
    """`users list`."""

    async def work(identity: Identity) -> list[Any]:
        rows: list[Any] = []
        offset = 0
        while True:
            page, total = await identity.users.list_users(
                search=None, state=None, sort="id", descending=False, limit=200, offset=offset
            )
            rows.extend(page)
            offset += len(page)
            if not page or offset >= total:
                return rows

    print(f"{'ID':>6}  {'STATE':<8}  {'PROVIDER':<10}  {'LAST LOGIN':<20}  EMAIL (NAME)")
    for row in _run(settings, work):
        login = row.last_login_at.strftime("%Y-%m-%d %H:%M") if row.last_login_at else "-"
        name = f" ({row.display_name})" if row.display_name else ""
        print(f"{row.id:>6}  {row.state:<8}  {row.provider:<10}  {login:<20}  {row.email}{name}")
    return EXIT_OK


@_guarded
def users_set_state(args: argparse.Namespace, settings: Settings) -> int:
    """`users set-state --email E --state S`."""
    from web.auth.audit import CLI_CLIENT

    async def work(identity: Identity) -> Any:
        user = await identity.users.by_email(args.email)
        return await identity.users.set_state(user.id, args.state, actor_id=None, client=CLI_CLIENT)

    row = _run(settings, work)
    print(f"user {row.id} {row.email} is now {row.state}")
    _memory_note(settings)
    return EXIT_OK


@_guarded
def keys_create(args: argparse.Namespace, settings: Settings) -> int:
    """`keys create --email E --name N [--expires-in-days D]`: stdout is only the key."""
    from web.auth.audit import CLI_CLIENT
    from web.auth.errors import InvalidInput
    from web.auth.keys import DEFAULT

    async def work(identity: Identity) -> str:
        user = await identity.users.by_email(args.email)
        if not user.active:
            raise InvalidInput(f"user {user.email} is {user.state}; its keys would be refused")
        expiry = DEFAULT if args.expires_in_days is None else args.expires_in_days
        created = await identity.keys.create(user.id, args.name, expiry, CLI_CLIENT)
        return created.key

    print(_run(settings, work))
    return EXIT_OK


@_guarded
def keys_list(args: argparse.Namespace, settings: Settings) -> int:
    """`keys list --email E`."""

    async def work(identity: Identity) -> list[Any]:
        user = await identity.users.by_email(args.email)
        return await identity.keys.list_keys(user.id)

    rows = _run(settings, work)
    now = datetime.now(UTC)
    print(f"{'ID':>6}  {'STATUS':<8}  {'HINT':<16}  {'CREATED':<16}  {'EXPIRES':<16}  NAME")
    for row in rows:
        created = row.created_at.strftime("%Y-%m-%d %H:%M")
        expires = row.expires_at.strftime("%Y-%m-%d %H:%M") if row.expires_at else "never"
        status = row.status(now)
        print(f"{row.id:>6}  {status:<8}  {row.hint:<16}  {created:<16}  {expires:<16}  {row.name}")
    return EXIT_OK


@_guarded
def keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """`keys revoke --id ID`."""
    from web.auth.audit import CLI_CLIENT

    row = _run(settings, lambda i: i.keys.revoke(args.key_id, None, CLI_CLIENT))
    print(f"revoked key {row.id} ({row.name}) of user {row.user_id}")
    _memory_note(settings)
    return EXIT_OK


@_guarded
def token(args: argparse.Namespace, settings: Settings) -> int:
    """`token --email E [--ttl S]`: stdout is only the access token."""
    from web.auth import audit
    from web.auth.audit import CLI_CLIENT, AuditEvent
    from web.auth.errors import InvalidInput

    ttl = args.ttl
    if ttl is not None and not 60 <= ttl <= MAX_TOKEN_TTL:
        raise InvalidInput(f"--ttl must be between 60 and {MAX_TOKEN_TTL} seconds")

    async def work(identity: Identity) -> str:
        user = await identity.users.by_email(args.email)
        if not user.active:
            raise InvalidInput(f"user {user.email} is {user.state}; its tokens would be refused")
        minted, claims = identity.auth.mint_token(user.id, ttl=ttl)
        meta = {"ttl": claims.expires_at - claims.issued_at, "jti": claims.jti}
        await identity.audit.record(AuditEvent(audit.TOKEN_MINTED, True, user.id, CLI_CLIENT, meta))
        return minted

    print(_run(settings, work))
    return EXIT_OK


COMMANDS: dict[str, Command] = {
    "users create": users_create,
    "users list": users_list,
    "users set-state": users_set_state,
    "keys create": keys_create,
    "keys list": keys_list,
    "keys revoke": keys_revoke,
    "token": token,
}

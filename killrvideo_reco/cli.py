"""Operator entry points (the Makefile calls these): python -m killrvideo_reco.cli <command>."""
from __future__ import annotations

import argparse
import sys
import uuid

from killrvideo_reco.logs import configure_logging
from killrvideo_reco.settings import UnsafeSettings, get_settings


def cmd_schema(args: argparse.Namespace) -> int:
    from killrvideo_reco.bootstrap import SchemaError, expected_schema_version, migrate

    settings = get_settings()
    try:
        applied = migrate(settings)
    except SchemaError as error:
        print(f"schema: {error}", file=sys.stderr)
        return 1
    version = expected_schema_version()
    if applied:
        print(f"schema: applied {', '.join(applied)}; keyspace {settings.cassandra_keyspace} "
              f"is at version {version}")
    else:
        print(f"schema: up to date (version {version}); nothing applied")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from killrvideo_reco.auth import ROLE_IMPLIES, mint

    try:
        user_id = uuid.UUID(args.user)
    except ValueError:
        user_id = uuid.uuid4()
        print(f"# USER={args.user!r} is not a UUID; minted for new user {user_id}", file=sys.stderr)
    if args.role not in ROLE_IMPLIES:
        print(f"token: unknown role {args.role!r}; use one of {sorted(ROLE_IMPLIES)}", file=sys.stderr)
        return 2
    print(mint(get_settings(), user_id, [args.role], ttl_s=args.ttl))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    try:
        settings.check_safe_to_serve()
    except UnsafeSettings as error:
        print(f"serve: refusing to start: {error}", file=sys.stderr)
        return 2
    # Logging is already set up by main(); the app logs one access line per request
    # itself, with its request id, so uvicorn's own access log is off. On SIGTERM uvicorn
    # stops accepting, lets in-flight requests finish for up to SHUTDOWN_GRACE_S, then runs
    # the lifespan's shutdown, where running jobs record where they stopped.
    uvicorn.run("killrvideo_reco.api.app:create_app", factory=True, host=settings.host,
                port=settings.port, log_level=settings.log_level.lower(), log_config=None,
                access_log=False, timeout_keep_alive=settings.http_keep_alive_s,
                # Annotated int, used as a float (an asyncio timeout): keep the setting exact.
                timeout_graceful_shutdown=settings.shutdown_grace_s)  # type: ignore[arg-type]
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from killrvideo_reco.jobs.demo import load_demo

    return load_demo(get_settings())


def cmd_profiles(args: argparse.Namespace) -> int:
    from killrvideo_reco.jobs.profiles import rebuild_all_profiles

    return rebuild_all_profiles(get_settings(), parallelism=args.parallelism)


def cmd_recount(args: argparse.Namespace) -> int:
    from killrvideo_reco.jobs.recount import recount_from_cli

    return recount_from_cli(get_settings(), parallelism=args.parallelism)


def cmd_migrate_impressions(args: argparse.Namespace) -> int:
    from killrvideo_reco.jobs.impression_pages import migrate_from_cli

    return migrate_from_cli(get_settings())


def cmd_train(args: argparse.Namespace) -> int:
    from killrvideo_reco.jobs.train import train_from_cli

    return train_from_cli(get_settings())


def cmd_reembed(args: argparse.Namespace) -> int:
    from killrvideo_reco.jobs.reembed import reembed_catalogue

    return reembed_catalogue(get_settings())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="killrvideo-reco", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("schema", help="apply the CQL schema").set_defaults(run=cmd_schema)
    token = commands.add_parser("token", help="mint a JWT for local use")
    token.add_argument("--user", required=True)
    token.add_argument("--role", default="viewer")
    token.add_argument("--ttl", type=int, default=86400, help="seconds (default one day)")
    token.set_defaults(run=cmd_token)
    commands.add_parser("serve", help="serve the HTTP API").set_defaults(run=cmd_serve)
    commands.add_parser("demo", help="load demo catalogue and viewers").set_defaults(run=cmd_demo)
    profiles = commands.add_parser("profiles", help="rebuild all taste profiles")
    profiles.add_argument("--parallelism", type=int, default=8)
    profiles.set_defaults(run=cmd_profiles)
    recount = commands.add_parser("recount", help="recount the view counters from viewing history")
    recount.add_argument("--parallelism", type=int, default=8)
    recount.set_defaults(run=cmd_recount)
    commands.add_parser("migrate-impressions", help="copy impressions stored an item a row "
                        "into one row a page (once, after upgrading)"
                        ).set_defaults(run=cmd_migrate_impressions)
    commands.add_parser("reembed", help="re-embed the catalogue").set_defaults(run=cmd_reembed)
    commands.add_parser("train", help="learn the behaviour space and switch the feed to it"
                        ).set_defaults(run=cmd_train)
    args = parser.parse_args(argv)
    configure_logging(get_settings().log_level, get_settings().log_format)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

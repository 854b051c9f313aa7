"""`acn db upgrade`: apply the Alembic migrations to the server database."""

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="migrate the database to the latest schema", description="Migrate the database to the latest schema.")
    upgrade.add_argument("--data-dir", type=Path, help="data directory whose acn.sqlite3 to migrate (default: ACN_DATA_DIR, else ./data)")
    upgrade.add_argument("--database-url", help="SQLAlchemy URL of the database (default: ACN_DATABASE_URL, else SQLite in the data directory)")


def run(args: argparse.Namespace) -> int:
    from server.db import upgrade_database
    from server.settings import Settings

    overrides = {name: getattr(args, name) for name in ("data_dir", "database_url") if getattr(args, name) is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        print(f"acn db: invalid settings:\n{error}", file=sys.stderr)
        return 2
    upgrade_database(settings.resolved_database_url)
    print(f"database is at the latest schema: {settings.resolved_database_url}", file=sys.stderr)
    return 0

"""The `acn` command: one sub-command per module of this package, each thin over `training` or `server`."""

import argparse
import importlib
import logging
import sys

# Sub-command name -> module with add_arguments(parser) and run(args) -> int.
COMMANDS = {
    "train": ("cli.train", "train an ACN or a baseline on a dataset"),
    "evaluate": ("cli.evaluate", "compute test-set costs, linear probes and figures for trained runs"),
    "sample": ("cli.sample", "draw unconditional samples, reconstructions or daydreams from a run"),
    "export": ("cli.export", "write a servable model bundle from a trained run"),
    "serve": ("cli.serve", "run the web gallery and JSON API"),
    "db": ("cli.db", "manage the server database"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acn", description="Associative Compression Networks.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue  # a sub-command that this installation does not ship yet
        sub = subparsers.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic logs one INFO line per built-in plugin whenever it is imported.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # it logs every CPU-feature probe at INFO
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

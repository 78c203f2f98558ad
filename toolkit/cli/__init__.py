"""The `toolkit` command.  One module per subcommand in this package; each
defines `command`, a click command.  Only this package prints or exits."""
from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from .. import __version__
from ..errors import EXIT_CODES, ToolkitError


class LazyGroup(click.Group):
    """Subcommands are the modules of this package, imported only when used
    (so `toolkit boards` never pays for importing torch)."""

    def list_commands(self, ctx):
        names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
        return sorted(n.replace("_", "-") for n in names)

    def get_command(self, ctx, name):
        if name not in self.list_commands(ctx):
            return None
        mod = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
        return mod.command


def _epilog() -> str:
    return "Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items())


@click.group(cls=LazyGroup, epilog=_epilog(), context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="toolkit")
def cli():
    """Put PyTorch BatchNorm on microcontrollers and prove it matches eval mode."""


def main(argv=None) -> int:
    try:
        cli.main(args=argv, prog_name="toolkit", standalone_mode=False)
    except ToolkitError as e:
        from ._io import plain
        click.echo(f"error: {plain(e)}", err=True)     # names from user models may hold escapes
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        return 130
    except click.UsageError as e:
        from ..display import plain
        where = f"toolkit {e.ctx.info_name}" if e.ctx is not None and e.ctx.parent is not None else "toolkit"
        click.echo(f"error: {plain(e.format_message())}; see `{where} --help`", err=True)
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    return 0


def run() -> None:
    sys.exit(main())

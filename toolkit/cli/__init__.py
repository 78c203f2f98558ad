"""The `toolkit` command.  One module per subcommand in this package; each
defines `command`, a click command.  Only this package prints or exits."""
from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from .. import __version__
from ..errors import EXIT_CODES, ToolkitError


HELPER_MODULES = {"options"}       # modules of this package that are not subcommands


class LazyGroup(click.Group):
    """Subcommands are the modules of this package, imported only when used
    (so `toolkit boards` never pays for importing torch)."""

    def list_commands(self, ctx):
        names = [m.name for m in pkgutil.iter_modules(__path__)
                 if not m.name.startswith("_") and m.name not in HELPER_MODULES]
        return sorted(n.replace("_", "-") for n in names)

    def get_command(self, ctx, name):
        if name not in self.list_commands(ctx):
            return None
        mod = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
        return mod.command


def _epilog() -> str:
    return "Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items())


def version_text() -> str:
    """toolkit, Python, torch and its CPU dispatch (torch is imported only here)."""
    import platform

    lines = [f"toolkit {__version__}", f"python {platform.python_version()}"]
    try:
        import torch
    except ImportError:
        lines.append("torch not installed (pip install torch; README: the CPU build)")
    else:
        lines.append(f"torch {torch.__version__} (CPU dispatch {torch.backends.cpu.get_cpu_capability()})")
    return "\n".join(lines)


def _print_version(ctx, param, value):
    if value and not ctx.resilient_parsing:
        click.echo(version_text())
        ctx.exit()


@click.group(cls=LazyGroup, epilog=_epilog(), context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show toolkit, Python and torch versions and torch's CPU dispatch, then exit.")
def cli():
    """Put PyTorch BatchNorm on microcontrollers and prove it matches eval mode."""


def main(argv=None) -> int:
    from ..boards import use_boards_path
    from ..resources import use_build_dir

    try:
        return _main(argv)
    finally:                     # --build-dir / --boards-path do not outlive the command
        use_build_dir(None)
        use_boards_path(())


def _main(argv) -> int:
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
        click.echo(f"error: {plain(e.format_message().rstrip('.'))}; see `{where} --help`", err=True)
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

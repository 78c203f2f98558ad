"""One exception hierarchy; only the CLI turns it into exit codes (docs/cli.md).

Every message is one line that names the problem and, after "; ", the fix.
"""
from __future__ import annotations


class ToolkitError(Exception):
    exit_code = 1

    def __init__(self, problem: str, fix: str = ""):
        self.problem, self.fix = problem, fix
        super().__init__(f"{problem}; {fix}" if fix else problem)


class VerifyFailed(ToolkitError):
    """The board's outputs did not meet the thresholds."""
    exit_code = 1


class InputError(ToolkitError):
    """A file or argument the user gave is missing, unreadable or malformed."""
    exit_code = 3


class ModelError(ToolkitError):
    """The model cannot be exported as asked (no running stats, NaN, ...)."""
    exit_code = 4


class QuantizationError(ModelError):
    """A channel's folded scale does not fit the fixed-point representation."""
    exit_code = 4


class BoardError(ToolkitError):
    """Port not found or busy, board not answering, model too large."""
    exit_code = 5


class ProtocolError(ToolkitError):
    """The board answered, but not as the protocol says (version, status)."""
    exit_code = 6


class ToolMissing(ToolkitError):
    """An external tool (cross compiler, QEMU, mpremote) is missing or failed."""
    exit_code = 7


class BuildFailed(ToolkitError):
    """Our own sources did not build (make or a compiler reported errors): not a
    missing tool.  `output` holds the compiler's full message."""
    exit_code = 7

    def __init__(self, problem: str, fix: str = "", output: str = ""):
        super().__init__(problem, fix)
        self.output = output


def first_error(output: str, default: str = "make failed") -> str:
    """The first line of a compiler's output that reports an error (else the first line)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [default])[0]


class UserCodeError(ToolkitError):
    """The user's own C code (`toolkit verify --kernel`) does not compile or link.
    `details` holds the compiler's messages."""
    exit_code = 8

    def __init__(self, problem: str, fix: str = "", details: str = ""):
        super().__init__(problem, fix)
        self.details = details


EXIT_CODES = {
    0: "success",
    1: "verification failed (or an unexpected internal error)",
    2: "command-line usage error",
    3: "bad input file or argument",
    4: "model cannot be exported as asked",
    5: "board or port problem",
    6: "protocol error reported by or about the board",
    7: "external tool missing or failed, or the firmware build failed",
    8: "your own kernel does not compile or link (verify --kernel)",
    130: "interrupted",
}

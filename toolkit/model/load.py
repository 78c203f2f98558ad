"""Load the MODEL argument of the CLI.

Accepted forms (docs/cli.md):
  path/to/file.py:factory     a function in a Python file returning an nn.Module
  package.module:factory      the same, from an importable module
  model.pt / model.ts         a TorchScript archive (torch.jit.save)
  model.pt2                   a torch.export archive (torch.export.save)
  model.pth (pickled module)  only with allow_pickle=True: unpickling runs code
`weights` (a state_dict file) is loaded with torch.load(weights_only=True)
into a factory's module.  If the factory's module defines `example_inputs()`,
it is kept as the default calibration data.

Modules resolve as Python itself resolves them: `mymodel:build` and the
classes a pickled model refers to are found in the current folder (as with
`python -m`), and a file.py can import the modules beside it (as with
`python file.py`), also when `toolkit` runs as an installed console script.
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

from ..errors import InputError

_SPEC_FIX = "give path/to/file.py:factory, package.module:factory, a TorchScript file or a .pt2 file"
# Files a user may pass by mistake: not archives, never worth an unpickling hint.
NOT_MODELS = {".c", ".h", ".bnm", ".npy", ".npz", ".py", ".json", ".txt", ".csv", ".md"}


@dataclass
class LoadedModel:
    model: object                      # nn.Module, ScriptModule or ExportedProgram
    kind: str                          # "factory", "torchscript", "export", "pickle"
    source: str
    example_inputs: Callable | None = None


def _on_sys_path(folder: Path) -> None:
    """Make modules in `folder` importable, the way `python -m` / `python file.py` do."""
    folder = str(folder.resolve())
    if folder not in (str(Path(p or ".").resolve()) for p in sys.path):
        sys.path.insert(0, folder)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def load_model(spec: str, weights: str | None = None, allow_pickle: bool = False) -> LoadedModel:
    spec = str(spec)
    path = Path(spec)
    if path.is_file():
        if weights:
            raise InputError(f"--weights applies to a factory, not to the file {spec}",
                             "give the model as file.py:factory with --weights, or drop --weights")
        return _load_file(path, allow_pickle)
    if ":" in spec:
        target, _, factory = spec.rpartition(":")
        if not factory.isidentifier() or not target:
            raise InputError(f"malformed MODEL {spec!r}: {factory!r} is not a function name", _SPEC_FIX)
        module = _import_target(target, spec)
        loaded = _call_factory(module, factory, spec)
        if weights:
            _load_weights(loaded.model, weights)
        return loaded
    if all(part.isidentifier() for part in spec.split(".")) and not path.exists():
        raise InputError(f"MODEL {spec!r} names no factory function",
                         f"write it as module:factory, e.g. {spec}:build")
    if path.suffix or "/" in spec or "\\" in spec:
        raise InputError(f"model file not found: {spec}", "check the path")
    raise InputError(f"malformed MODEL {spec!r}", _SPEC_FIX)


def _import_target(target: str, spec: str):
    if target.endswith(".py") or "/" in target or "\\" in target:
        file = Path(target)
        if not file.is_file():
            raise InputError(f"model file not found: {target}", "check the path in MODEL")
        _on_sys_path(file.parent)
        name = "_toolkit_model_" + re.sub(r"\W", "_", str(file.resolve()))
        mspec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(mspec)
        sys.modules[name] = module
        try:
            mspec.loader.exec_module(module)
        except (Exception, SystemExit) as e:     # a model file that calls sys.exit() too
            sys.modules.pop(name, None)
            raise InputError(f"importing {target} failed: {_first_line(e)}", "fix the model file") from None
        return module
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", target):
        raise InputError(f"malformed MODEL {spec!r}: {target!r} is neither a .py file nor a module name",
                         _SPEC_FIX)
    _on_sys_path(Path.cwd())
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as e:
        raise InputError(f"module {target!r} not found ({_first_line(e)})",
                         "check the module name or give path/to/file.py:factory") from None
    except (Exception, SystemExit) as e:
        raise InputError(f"importing {target} failed: {_first_line(e)}", "fix the model module") from None


def _call_factory(module, factory: str, spec: str) -> LoadedModel:
    import torch
    fn = getattr(module, factory, None)
    if fn is None:
        raise InputError(f"factory {factory!r} not found in {spec.rpartition(':')[0]}",
                         "check the function name after the ':'")
    if not callable(fn):
        raise InputError(f"{factory!r} in MODEL {spec!r} is not callable", "name a function that returns an nn.Module")
    try:
        model = fn()
    except (Exception, SystemExit) as e:
        raise InputError(f"factory {factory!r} raised {_first_line(e)}",
                         "make the factory callable without arguments") from None
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"factory {factory!r} returned a {type(model).__name__}, not an nn.Module",
                         "return the model (an nn.Module) from the factory")
    examples = getattr(module, "example_inputs", None)
    return LoadedModel(model, "factory", spec, examples if callable(examples) else None)


def _load_weights(model, weights: str) -> None:
    import torch
    if not Path(weights).is_file():
        raise InputError(f"weights file not found: {weights}", "check the --weights path")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as e:
        raise InputError(f"cannot read weights {weights}: {_first_line(e)}",
                         "give a state_dict saved with torch.save(model.state_dict(), path)") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputError(f"{weights} holds a {type(state).__name__}, not a state_dict",
                         "save it with torch.save(model.state_dict(), path)")
    try:
        model.load_state_dict(state)
    except Exception as e:
        raise InputError(f"weights {weights} do not fit the model: {_first_line(e)}",
                         "give the state_dict of this model's architecture") from None


def _zip_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def _load_file(path: Path, allow_pickle: bool) -> LoadedModel:
    import torch
    if path.suffix == ".py":
        raise InputError(f"MODEL {path} names no factory", f"write it as {path}:factory")
    names = _zip_names(path)
    is_export = path.suffix == ".pt2" or any(n.endswith("archive_format") for n in names)
    is_script = any("/code/" in n for n in names) and not is_export
    try:
        if is_export:
            return LoadedModel(torch.export.load(str(path)), "export", str(path))
        if is_script:
            return LoadedModel(torch.jit.load(str(path), map_location="cpu"), "torchscript", str(path))
    except Exception as e:
        raise InputError(f"cannot load {path}: {_first_line(e)}", "check that the file is complete") from None
    if path.suffix.lower() in NOT_MODELS:
        raise InputError(f"{path} is not a model ({path.suffix} file)",
                         "give file.py:factory, a TorchScript archive or a torch.export .pt2 archive")
    if not allow_pickle:
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception:
            raise InputError(f"{path} is not a TorchScript or torch.export archive; it may be a pickled module",
                             "unpickling runs arbitrary code: pass --allow-pickle only if you trust the file, "
                             "or save the model with torch.jit.save / torch.export.save") from None
        kind = "state_dict" if isinstance(obj, dict) else type(obj).__name__
        raise InputError(f"{path} holds a {kind}, not a model",
                         "give a factory (file.py:build) and pass this file as --weights")
    _on_sys_path(Path.cwd())
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as e:
        raise InputError(f"cannot unpickle {path}: {_first_line(e)}",
                         "the classes the pickle refers to must be importable") from None
    if not isinstance(obj, torch.nn.Module):
        raise InputError(f"{path} holds a {type(obj).__name__}, not an nn.Module",
                         "save the whole module with torch.save(model, path)")
    return LoadedModel(obj, "pickle", str(path))

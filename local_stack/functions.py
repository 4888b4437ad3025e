"""Run the template's Lambda handlers in this process, and pick up code changes without a restart.

Each function's module is loaded from its own folder under a private module name (every
function has an `app.py`). Like one warm Lambda execution environment, a function handles one
event at a time: handlers keep per-invocation state in module globals, so concurrent calls to
the same function queue; different functions run at once. Except the API functions: Powertools'
event handler keeps the event it is resolving in class attributes that every resolver in the
process shares (`BaseRouter.current_event`), so two API functions running at once would read each
other's requests (another caller, another body). The functions with API routes share one queue.
Before each invocation the function's folder and its layers are
checked for changed files; if any changed, the shared `soundcanvas` package and the handler
are reloaded, so an edit takes effect on the next request or workflow step.

A handler module that reads the time through a module-level `clock` (the track library does)
gets the local stack's clock instead, so a test or a demo can move time forward by days.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import botocore.session

from local_stack.template import FunctionSpec

log = logging.getLogger("local_stack.functions")
RECHECK_SECONDS = 0.5  # how often a function's files are checked for changes


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = "local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def _snapshot(dirs: list[Path]) -> dict[str, float]:
    stamps: dict[str, float] = {}
    for folder in dirs:
        for path in folder.rglob("*.py"):
            stamps[str(path)] = path.stat().st_mtime_ns
    return stamps


class _DistinctPaths(list[str]):
    """A loader's search paths, each kept once however often it is appended."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


_LOADERS: dict[str | None, Any] = {}  # AWS_DATA_PATH -> the one botocore loader of this process for it
_LOADERS_LOCK = threading.Lock()
_create_loader = botocore.session.create_loader


def _shared_loader(search_path_string: str | None = None) -> Any:
    with _LOADERS_LOCK:
        if search_path_string not in _LOADERS:
            loader = _create_loader(search_path_string)
            # boto3 appends its own data folder to its session's loader, once per boto3 session: shared, the list
            # would grow with every session, so it keeps each folder once.
            loader._search_paths = _DistinctPaths(loader.search_paths)
            _LOADERS[search_path_string] = loader
        return _LOADERS[search_path_string]


def share_botocore_loader() -> None:
    """Every botocore session made in this process from now on gets the same loader, so the service models and
    endpoint rules are parsed once (botocore caches what it parses in the session's loader). Each function module
    makes its own session at import, as a Lambda container does once; here forty functions share a process, and a
    session's first client would otherwise parse the same files again (~0.1 s each). Only parsed read-only data is
    shared: every session keeps its own clients, credentials and configuration. Idempotent."""
    botocore.session.create_loader = _shared_loader


class FunctionHost:
    """Loads and invokes every function of the template; reloads code that changed on disk."""

    def __init__(self, specs: dict[str, FunctionSpec], *, clock: Any = None) -> None:
        self.specs = specs
        self.clock = clock
        # function -> what its next invocations do instead: raise an error, or first sleep (a stalled call)
        self._faults: dict[str, list[BaseException | float]] = {}
        self._modules: dict[str, ModuleType] = {}
        self._stamps: dict[str, dict[str, float]] = {}
        self._checked: dict[str, float] = {}
        api = threading.Lock()  # one API invocation at a time, whichever function (see the module's docstring)
        self._busy = {name: api if spec.routes else threading.Lock() for name, spec in specs.items()}
        self._lock = threading.RLock()
        layer_dirs = sorted({str(p.resolve()) for spec in specs.values() for p in spec.layers})
        for folder in layer_dirs:
            if folder not in sys.path:
                sys.path.insert(0, folder)
        self._layer_dirs = [Path(p) for p in layer_dirs]
        share_botocore_loader()

    def environment(self) -> dict[str, str]:
        """The union of all functions' variables (they share this process's environment); conflicts are errors."""
        merged: dict[str, str] = {}
        for spec in self.specs.values():
            for key, value in spec.environment.items():
                if key in merged and merged[key] != value:
                    raise ValueError(f"environment variable {key} differs between functions; the local stack "
                                     "runs them in one process and needs one value")
                merged[key] = value
        return merged

    def _watch_dirs(self, spec: FunctionSpec) -> list[Path]:
        return [spec.code_dir, *spec.layers]

    def module(self, name: str) -> ModuleType:
        spec = self.specs[name]
        module = self._modules.get(name)
        if module is not None and time.monotonic() - self._checked.get(name, 0.0) < RECHECK_SECONDS:
            return module
        with self._lock:
            stamps = _snapshot(self._watch_dirs(spec))
            self._checked[name] = time.monotonic()
            module = self._modules.get(name)
            if module is not None and stamps == self._stamps.get(name):
                return module
            if module is not None:
                log.info("code changed: reloading %s", name)
                self._forget_layer_modules()
            module = self._load(spec)
            self._modules[name], self._stamps[name] = module, stamps
            return module

    def _forget_layer_modules(self) -> None:
        """Drop the shared package from sys.modules and every loaded handler, so all reload from disk."""
        roots = tuple(str(d) for d in self._layer_dirs)
        for mod_name, mod in list(sys.modules.items()):
            file = getattr(mod, "__file__", None) or ""
            if file.startswith(roots):
                del sys.modules[mod_name]
        for name in list(self._modules):
            sys.modules.pop(f"_sc_fn_{name}", None)
        self._modules.clear()

    def _load(self, spec: FunctionSpec) -> ModuleType:
        module_file, _, _ = spec.handler.rpartition(".")
        path = spec.code_dir / f"{module_file.replace('.', '/')}.py"
        mod_name = f"_sc_fn_{spec.name}"
        loader_spec = importlib.util.spec_from_file_location(mod_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"cannot load handler module {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[mod_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(mod_name, None)
            raise
        if self.clock is not None and callable(getattr(module, "clock", None)):
            setattr(module, "clock", self.clock)  # noqa: B010 (a handler module attribute, by name)
        return module

    def fail_next(self, name: str, error: BaseException, times: int = 1) -> None:
        """Fault injection for tests: the function's next `times` invocations raise `error` instead of running."""
        if name not in self.specs:
            raise KeyError(f"no function {name}")
        with self._lock:
            self._faults.setdefault(name, []).extend([error] * times)

    def delay_next(self, name: str, seconds: float, times: int = 1) -> None:
        """Fault injection for tests: the function's next `times` invocations sleep `seconds`, then run (a task
        overrunning its TimeoutSeconds; as in Lambda, the call goes on after Step Functions stops waiting)."""
        if name not in self.specs:
            raise KeyError(f"no function {name}")
        with self._lock:
            self._faults.setdefault(name, []).extend([float(seconds)] * times)

    def pending_faults(self, name: str) -> int:
        with self._lock:
            return len(self._faults.get(name, []))

    def invoke(self, name: str, event: Any) -> Any:
        """Call the function's handler with the event and a Lambda-like context."""
        spec = self.specs[name]
        with self._busy[name]:
            with self._lock:
                fault = self._faults[name].pop(0) if self._faults.get(name) else None
            if isinstance(fault, BaseException):
                raise fault
            if fault is not None:
                time.sleep(fault)
            return self._invoke(spec, event)

    def _invoke(self, spec: FunctionSpec, event: Any) -> Any:
        module = self.module(spec.name)  # once: the code check and any reload happen before the call, not after
        fn = getattr(module, spec.handler.rpartition(".")[2])
        context = LambdaContext(
            function_name=spec.name,
            memory_limit_in_mb=spec.memory,
            invoked_function_arn=spec.arn,
            aws_request_id=str(uuid.uuid4()),
            deadline=time.monotonic() + spec.timeout,
        )
        try:
            return fn(event, context)
        finally:
            _clear_disabled_metrics(module)


def _clear_disabled_metrics(module: ModuleType) -> None:
    """Locally metrics are disabled (POWERTOOLS_METRICS_DISABLED), and Powertools then never clears them:
    each Metrics object would keep every value and print them all once it holds 100. Clear them after
    each invocation, as a flush would in Lambda."""
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() != "true":
        return
    for value in vars(module).values():
        clear = getattr(value, "clear_metrics", None)
        if callable(clear) and type(value).__name__ == "Metrics":
            clear()


def apply_environment(variables: dict[str, str]) -> None:
    os.environ.update(variables)

"""The built-in environment kinds' options on a command line, made from the kinds' own declarations.

A command decorated with `with_kind_options("run")` gets one option per `KindOption` that a
built-in kind offers for `run` (--installer, --build-image, -A, ...), and receives those that
were given as one mapping, `kind_flags` (setting name → value). No CLI module names a kind's
option; the kinds do (runner/environments/*_kind.py). Plugin kinds take `--env-config`.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, List, Optional, TypeVar

import typer

from runner.environments import registry
from runner.environments.kind import Command, KindOption

F = TypeVar("F", bound=Callable[..., Any])
_ANNOTATIONS: dict[str, Any] = {"text": Optional[str], "flag": Optional[bool], "list": Optional[List[str]]}


def with_kind_options(command: Command) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        options = [o for kind in registry.builtin_kinds() for o in kind.options if o.flags and command in o.commands]
        signature = inspect.signature(func)
        kept = [p for p in signature.parameters.values() if p.name != "kind_flags"]

        @functools.wraps(func)
        def wrapper(**kwargs: Any) -> Any:
            given = {o.setting: kwargs.pop(_parameter_name(o)) for o in options}
            return func(**kwargs, kind_flags={k: v for k, v in given.items() if v not in (None, [])})

        parameters = [*kept, *(_parameter(o) for o in options)]
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def manager_help() -> str:
    names = registry.manager_names(builtin_only=True)
    return f"{', '.join(names[:-1])} or {names[-1]}, or a plugin kind's name [default: from the project]."


def _parameter(option: KindOption) -> inspect.Parameter:
    # None unless given: only the flags a user gave reach the kind (the kind knows its defaults).
    info = typer.Option(None, *option.flags, help=_help(option), envvar=option.envvar, metavar=option.metavar)
    return inspect.Parameter(_parameter_name(option), inspect.Parameter.KEYWORD_ONLY, default=info,
                             annotation=_ANNOTATIONS[option.form])


def _parameter_name(option: KindOption) -> str:
    return f"kind_option_{option.setting}"


def _help(option: KindOption) -> str:
    if option.form == "flag" and "/" in option.flags[0]:
        on, off = option.flags[0].split("/")
        return f"{option.help} [default: {(on if option.default else off).lstrip('-')}]"
    if option.form == "text" and option.default is not None:
        return f"{option.help} [default: {option.default}]"
    return option.help

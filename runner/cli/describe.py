"""Projects as text and JSON, for `proj info`."""

from __future__ import annotations

from typing import Any

from runner.project import EnvironmentSection, Project


def project_as_dict(project: Project) -> dict[str, Any]:
    return {
        "name": project.name,
        "root": str(project.root.absolute()),
        "spec_file": str(project.spec_file) if project.spec_file else None,
        "environment": _environment_as_dict(project.environment),
        "entry_points": {
            name: {
                "command": ep.command,
                "parameters": [
                    {
                        "name": p.name,
                        "type": p.type,
                        "default": p.default,
                        "required": p.required,
                        "description": p.description,
                    }
                    for p in ep.parameters
                ],
            }
            for name, ep in project.entry_points.items()
        },
    }


def describe_project(project: Project) -> str:
    lines = [
        f"project      {project.name or '(unnamed)'}",
        f"folder       {project.root.absolute()}",
        f"environment  {_environment_summary(project.environment)}",
    ]
    if not project.entry_points:
        lines.append("entry points (none declared; `-e script.py` or `-e script.sh` runs a script)")
    else:
        lines.append("entry points")
    for name, entry_point in project.entry_points.items():
        lines.append(f"  {name}")
        command_lines = entry_point.command.rstrip("\n").splitlines() or [""]
        lines.append(f"    command: {command_lines[0]}")
        lines.extend(f"             {line}" for line in command_lines[1:])
        for p in entry_point.parameters:
            default = "required" if p.required else f"default {p.default!r}"
            text = f"    - {p.name} ({p.type}, {default})"
            lines.append(text + (f": {p.description}" if p.description else ""))
    return "\n".join(lines)


def _environment_as_dict(env: EnvironmentSection | None) -> dict[str, Any] | None:
    return None if env is None else env.as_dict()


def _environment_summary(env: EnvironmentSection | None) -> str:
    return "none (runs in the current Python environment)" if env is None else env.summary()

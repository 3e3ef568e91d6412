"""Projects as text and JSON, for `proj info`."""

from __future__ import annotations

from typing import Any

from runner.envfiles import CondaEnv, PythonEnv
from runner.spec import DockerEnv, Project


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


def _environment_as_dict(env) -> dict[str, Any] | None:
    if env is None:
        return None
    if isinstance(env, DockerEnv):
        return {
            "kind": env.kind,
            "image": env.image,
            "volumes": list(env.volumes),
            "environment": [[v.name, v.value] if v.value is not None else v.name for v in env.environment],
        }
    if isinstance(env, PythonEnv):
        return {"kind": env.kind, "file": str(env.file), "python": env.python,
                "build_dependencies": list(env.build_dependencies), "dependencies": list(env.dependencies)}
    return {"kind": env.kind, "file": str(env.file), "name": env.name, "channels": list(env.channels),
            "dependencies": list(env.dependencies), "pip": list(env.pip)}


def _environment_summary(env) -> str:
    if env is None:
        return "none (runs in the current Python environment)"
    if isinstance(env, DockerEnv):
        return f"docker_env (image {env.image})"
    if isinstance(env, PythonEnv):
        python = f"python {env.python}" if env.python else "any python"
        return f"python_env ({env.file.name}: {python}, {len(env.dependencies)} dependencies)"
    assert isinstance(env, CondaEnv)
    return f"conda_env ({env.file.name}: {len(env.dependencies)} conda packages, {len(env.pip)} pip)"

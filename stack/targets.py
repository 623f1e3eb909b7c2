"""Deployments the harness did not start: their addresses, from `--target ARCH=URL` or a file.

A targets file (TOML, or YAML by its .yaml/.yml suffix) has one table per architecture:

    [micro]
    url = "http://10.0.0.6:8000"          # the entry point (the gateway)
    admin_token = "..."                   # optional: the stack's admin token, for faults
    [micro.services.gateway]
    metrics = "http://10.0.0.6:8000/metrics"
    admin = "http://127.0.0.1:9100"       # optional: its admin listener (serving/admin.py)
    [micro.services.score]
    metrics = "http://10.0.0.7:8004/metrics"

`--target ARCH=URL` knows only the entry point: its metrics are URL/metrics, the other services'
are not measured. Nothing here is ever written to a run folder with its token (`public()`).
"""

from __future__ import annotations

import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import UserError
from stack.topology import ARCHITECTURES, services

REACH_TIMEOUT_S = 5.0


class TargetError(UserError):
    """A target is malformed, names what does not exist, or does not answer."""


@dataclass(frozen=True)
class ServiceTarget:
    """Where one service of a deployment is read (metrics) and, optionally, steered (admin)."""

    metrics_url: str | None = None
    admin_url: str | None = None


@dataclass(frozen=True)
class Target:
    """One running deployment of an architecture."""

    arch: str
    url: str
    services: Mapping[str, ServiceTarget] = field(default_factory=dict)
    admin_token: str | None = field(default=None, repr=False)

    @property
    def faults_reachable(self) -> bool:
        """Whether faults can be toggled: a token and at least one admin listener."""
        return bool(self.admin_token) and any(s.admin_url for s in self.services.values())

    def public(self) -> dict[str, Any]:
        """What meta.json says of the target: addresses, and whether a token was given."""
        return {
            "arch": self.arch,
            "url": self.url,
            "services": {
                name: {"metrics_url": s.metrics_url, "admin_url": s.admin_url}
                for name, s in self.services.items()
            },
            "admin_token": "given" if self.admin_token else None,
        }


def _url(text: object, where: str) -> str:
    parsed = urllib.parse.urlsplit(str(text))
    if not isinstance(text, str) or parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise TargetError(f"{where}: {text!r} is not an http:// or https:// URL")
    return text.rstrip("/")


def _arch(name: object, where: str) -> str:
    if name not in ARCHITECTURES:
        raise TargetError(
            f"{where}: unknown architecture {name!r}; choose from: {', '.join(ARCHITECTURES)}"
        )
    return str(name)


def _entry_only(arch: str, url: str) -> Target:
    entry = next(s.name for s in services(arch) if s.entry)
    return Target(arch, url, {entry: ServiceTarget(metrics_url=f"{url}/metrics")})


def from_flags(values: Sequence[str]) -> tuple[Target, ...]:
    """Targets from `--target ARCH=URL` values."""
    found: dict[str, Target] = {}
    for value in values:
        arch, sep, url = value.partition("=")
        if not sep:
            raise TargetError(
                f"--target takes ARCH=URL (e.g. micro=http://host:8000), not {value!r}"
            )
        where = f"--target {value}"
        arch = _arch(arch.strip(), where)
        if arch in found:
            raise TargetError(f"--target names {arch!r} twice")
        found[arch] = _entry_only(arch, _url(url.strip(), where))
    return tuple(found.values())


def _read(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as exc:
        raise TargetError(f"--targets {path}: cannot be read ({exc.strerror})") from None
    if path.suffix in (".yaml", ".yml"):
        import yaml  # only where a YAML file is given

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problem = str(exc).splitlines()[0]
            raise TargetError(f"--targets {path}: not valid YAML ({problem})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"--targets {path}: not valid TOML ({exc})") from None


def from_file(path: Path) -> tuple[Target, ...]:
    """Targets from a TOML or YAML file (the module docstring shows its shape)."""
    data = _read(path)
    if not isinstance(data, dict) or not data:
        raise TargetError(f"--targets {path}: expected a table per architecture, found none")
    found = []
    for arch, table in data.items():
        where = f"--targets {path}: [{arch}]"
        arch = _arch(arch, f"--targets {path}")
        if not isinstance(table, dict) or "url" not in table:
            raise TargetError(f"{where} needs url = the entry point's address")
        unknown = set(table) - {"url", "admin_token", "services"}
        if unknown:
            raise TargetError(
                f"{where}: unknown key {sorted(unknown)[0]!r}; keys: url, admin_token, services"
            )
        known = [s.name for s in services(arch)]
        listed = table.get("services") or {}
        if not isinstance(listed, dict):
            raise TargetError(f"{where}: services must be a table of service names")
        given: dict[str, ServiceTarget] = {}
        for name, entry in listed.items():
            if name not in known:
                raise TargetError(
                    f"{where}: {arch} has no service {name!r}; its services: {', '.join(known)}"
                )
            if not isinstance(entry, dict) or set(entry) - {"metrics", "admin"}:
                raise TargetError(f"{where}.services.{name}: keys are metrics and admin")
            given[name] = ServiceTarget(
                _url(entry["metrics"], f"{where}.services.{name}.metrics")
                if entry.get("metrics")
                else None,
                _url(entry["admin"], f"{where}.services.{name}.admin")
                if entry.get("admin")
                else None,
            )
        token = table.get("admin_token")
        if token is not None and (not isinstance(token, str) or not token):
            raise TargetError(f"{where}: admin_token must be a non-empty string")
        target = Target(arch, _url(table["url"], f"{where}.url"), given, token)
        if token is None and any(s.admin_url for s in given.values()):
            raise TargetError(f"{where}: admin URLs are given but no admin_token")
        found.append(target if given else _entry_only(arch, target.url))
    return tuple(found)


def _answers(url: str) -> str | None:
    """None if the URL answers 200, else what happened."""
    try:
        with urllib.request.urlopen(url, timeout=REACH_TIMEOUT_S) as response:
            return None if response.status == 200 else f"answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"answered {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"unreachable ({reason})"


def check_reachable(targets: Sequence[Target]) -> None:
    """TargetError naming the first entry point not ready or metrics page not answering."""
    for target in targets:
        problem = _answers(f"{target.url}/readyz")
        if problem:
            raise TargetError(f"target {target.arch} at {target.url}/readyz: {problem}")
        for name, service in target.services.items():
            if service.metrics_url and (problem := _answers(service.metrics_url)):
                raise TargetError(
                    f"target {target.arch}, service {name}: {service.metrics_url} {problem}"
                )

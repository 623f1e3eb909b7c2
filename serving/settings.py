"""One frozen settings object per process, read from `ARCHBENCH_*` environment variables once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from pipeline.paths import DEFAULT_MODEL_DIR
from pipeline.stages import STAGE_NAMES


@dataclass(frozen=True)
class Settings:
    """What a serving process needs to know; the entry module builds it, the app receives it."""

    host: str = "127.0.0.1"
    port: int = 8000
    model_dir: Path = DEFAULT_MODEL_DIR
    max_body_bytes: int = 1 << 20
    max_records: int = 1024
    # Inter-stage bodies (feature matrices) are larger than the public request.
    max_internal_body_bytes: int = 16 << 20
    # Per stage its base URL, or its replicas' URLs comma-separated (the gateway round-robins).
    stage_urls: Mapping[str, str] = field(default_factory=dict)
    # The gateway's calls to stages; a timeout of 0 means none (wait as long as it takes).
    stage_timeout_s: float = 2.0
    connect_timeout_s: float = 0.5
    pool_size: int = 100
    # Connections to any one stage; 0: no limit of its own within pool_size.
    pool_per_stage: int = 0
    # Resilience patterns of the gateway (microservices/resilience.py), all off by default.
    retries: int = 0
    retry_budget: float = 0.2
    breaker: bool = False
    breaker_failures: int = 5
    breaker_reset_s: float = 1.0
    fallback: bool = False
    # A call refused at connect (the stage's process is not listening: restarting, a replica
    # being replaced) goes to the stage's next replica, each replica at most once: safe whatever
    # the stage does, since the request never reached it (microservices/hops.py).
    retry_refused: bool = False
    # The admin listener (serving/admin.py): only with both a port and a token.
    admin_port: int | None = None
    admin_token: str | None = None
    # W3C trace context (serving/trace.py): accept or start a traceparent, forward it on every
    # hop, log one access line per request, name the trace-id in error bodies. On by default;
    # off only to measure what it costs (`archbench perf`).
    trace: bool = True
    # Secured hops (serving/tls.py): mutual TLS between the gateway and the stages. A stage then
    # serves every listener with TLS and refuses a client without a certificate from the CA; the
    # gateway calls the stages over https presenting its own. The files are this process's.
    secure_hops: bool = False
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_ca_file: Path | None = None

    def __post_init__(self) -> None:
        files = (self.tls_cert_file, self.tls_key_file, self.tls_ca_file)
        if self.secure_hops and None in files:
            raise ValueError(
                "secure_hops needs ARCHBENCH_TLS_CERT_FILE, ARCHBENCH_TLS_KEY_FILE and "
                "ARCHBENCH_TLS_CA_FILE"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **overrides: object) -> Settings:
        """Build settings from ARCHBENCH_* variables; keyword overrides (CLI flags) win."""

        def get(name: str) -> str | None:
            return environ.get("ARCHBENCH_" + name.upper())

        values: dict[str, object] = {}
        for name, convert in (
            ("host", str),
            ("port", int),
            ("model_dir", Path),
            ("max_body_bytes", int),
            ("max_records", int),
            ("stage_timeout_s", float),
            ("connect_timeout_s", float),
            ("pool_size", int),
            ("pool_per_stage", int),
            ("retries", int),
            ("retry_budget", float),
            ("breaker", _flag),
            ("breaker_failures", int),
            ("breaker_reset_s", float),
            ("fallback", _flag),
            ("retry_refused", _flag),
            ("admin_port", int),
            ("admin_token", str),
            ("trace", _flag),
            ("secure_hops", _flag),
            ("tls_cert_file", Path),
            ("tls_key_file", Path),
            ("tls_ca_file", Path),
        ):
            raw = get(name)
            if raw is not None:
                values[name] = convert(raw)
        urls = {s: u for s in STAGE_NAMES if (u := get(f"{s}_url")) is not None}
        if urls:
            values["stage_urls"] = urls
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def environ(values: Mapping[str, object]) -> dict[str, str]:
    """The ARCHBENCH_* variables that give a serving process these settings (Settings field
    names and typed values): the one path by which a setting reaches a child process, read back
    by `Settings.from_env`. An unknown name or a value of the wrong type is a bug: TypeError."""
    known = {f.name: f for f in fields(Settings) if f.name != "stage_urls"}
    out = {}
    for name, value in values.items():
        if name not in known:
            raise TypeError(f"{name!r} is not a serving setting; known: {', '.join(known)}")
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, int | float | str | Path):
            text = str(value)
        else:
            raise TypeError(f"setting {name}={value!r} is not a bool, number, string or path")
        out["ARCHBENCH_" + name.upper()] = text
    return out


def _flag(raw: str) -> bool:
    """An on/off environment value: 1/true/yes/on or 0/false/no/off."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{raw!r} is not an on/off value; use 1 or 0")

"""Server settings: every one is an environment variable ``CORRAL_<NAME>`` with a default.

The descriptions here are the documentation: ``docs/settings.md`` lists every field of
:class:`Settings` and a test keeps the two in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path("~/.corral").expanduser()


class Settings(BaseSettings):
    """Configuration of a Corral server process."""

    model_config = SettingsConfigDict(env_prefix="CORRAL_", extra="ignore", frozen=True)

    home: Path = Field(
        default_factory=_default_home,
        description="Directory for the SQLite database and the server's local files.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the database. Unset: a SQLite file `corral.db` under the home "
            "directory. PostgreSQL: `postgresql+psycopg://user@host:5432/dbname`."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address `corral serve` listens on.")
    port: int = Field(default=8600, ge=0, le=65535, description="Port `corral serve` listens on.")
    workers: int = Field(default=1, ge=1, le=64, description="Server worker processes.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Log level of the server."
    )
    auto_migrate: bool = Field(
        default=True,
        description="Apply pending database migrations when the server starts.",
    )
    jobs_enabled: bool = Field(
        default=True,
        description=(
            "Run background jobs (retention, deliveries, rollout analysis) in this process. "
            "Each job runs on one replica at a time whatever this says."
        ),
    )
    max_request_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted, in bytes; larger ones get HTTP 413.",
    )
    sqlite_write_process: bool = Field(
        default=True,
        description=(
            "On SQLite, `corral serve` writes ingested spans from a process of its own, so that "
            "the threads decoding the next exports do not slow the single writer down; `false` "
            "writes them from the server process."
        ),
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description=(
            "SQLite `synchronous` pragma. FULL survives power loss; NORMAL survives a crashed "
            "process only, and writes faster."
        ),
    )
    db_pool_size: int = Field(
        default=10, ge=1, le=200, description="Database connections kept open per process."
    )
    secret_key: str | None = Field(
        default=None,
        description=(
            "Secret for signing session cookies and audit checkpoints and for encrypting "
            "provider keys. Unset: generated once into `secret.key` under the home directory. "
            "Every replica of one deployment must share the same value."
        ),
    )
    session_hours: float = Field(
        default=12, gt=0, le=24 * 30, description="Lifetime of a console login session, in hours."
    )
    cookie_secure: Literal["auto", "always", "never"] = Field(
        default="auto",
        description=(
            "Mark the session cookie Secure: `auto` does so when the request came over HTTPS "
            "(directly or per X-Forwarded-Proto)."
        ),
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description=(
            "Failed logins allowed per account within the login window before further attempts "
            "are refused with HTTP 429 (an address gets four times as many)."
        ),
    )
    auth_cache_seconds: float = Field(
        default=2,
        ge=0,
        le=60,
        description=(
            "How long a replica remembers who an API key is (read again in the background once "
            "past half this time while the key is in use). A change to keys, users, agents, "
            "projects or roles applies at once on the replica that made it and within this "
            "time on the others; 0 reads the key on every request."
        ),
    )
    login_window_minutes: float = Field(
        default=15, gt=0, description="The window in which failed logins are counted."
    )
    audit_checkpoint_minutes: float = Field(
        default=10,
        gt=0,
        description="How often the head of the audit chain is signed (Ed25519) when it has moved.",
    )
    otlp_max_decoded_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description=(
            "Largest OTLP trace export accepted once decompressed, in bytes; larger ones get "
            "HTTP 413 (protects against small gzip bodies that inflate enormously)."
        ),
    )
    otlp_max_concurrent_exports: int = Field(
        default=8,
        ge=1,
        le=256,
        description=(
            "Trace exports decoded and written at once per process; further ones wait "
            "(bounding memory) and get HTTP 503 with Retry-After if the wait exceeds "
            "`CORRAL_OTLP_QUEUE_TIMEOUT_SECONDS`."
        ),
    )
    otlp_queue_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a trace export waits for its turn before HTTP 503 (back-pressure).",
    )
    retention_interval_seconds: float = Field(
        default=3600.0,
        ge=1,
        description="How often the retention job deletes traces older than each project's limit.",
    )
    statistics_interval_seconds: float = Field(
        default=900.0,
        ge=1,
        description=(
            "How often the planner statistics of the span tables are refreshed (also once at "
            "start), so that queries keep their plans as the tables grow."
        ),
    )
    memory_max_item_bytes: int = Field(
        default=32 * 1024,
        ge=256,
        le=16 * 1024 * 1024,
        description="Largest memory item content accepted, in UTF-8 bytes; larger ones get 413.",
    )
    memory_recall_candidates: int = Field(
        default=300,
        ge=10,
        le=100_000,
        description=(
            "Recall scores, for each query term, at most this many of the newest items holding "
            "it (all of them for rarer terms)."
        ),
    )
    memory_recency_half_life_days: float = Field(
        default=30.0,
        gt=0,
        description="Age at which an item's recency boost has halved, in days.",
    )
    memory_restore_budget: int = Field(
        default=2000,
        ge=64,
        le=200_000,
        description="Token budget of a context pack when the caller gives none.",
    )
    memory_dense_encoder: Literal["none", "wordllama"] = Field(
        default="none",
        description=(
            "Optional dense-vector stage of recall: `wordllama` (install `corral[dense]`; the "
            "model ships inside that package) fuses embedding similarity with BM25."
        ),
    )
    gateway_cache_seconds: float = Field(
        default=2,
        ge=0,
        le=60,
        description=(
            "How long a replica remembers the projects, agents, tool policies, providers and "
            "budget terms the gateway reads on every call (read again in the background once "
            "past half this time). A change applies at once on the replica that made it and "
            "within this time on the others; 0 reads them on every call. What budgets have "
            "spent and hold is always read at the call."
        ),
    )
    gateway_default_max_tokens: int = Field(
        default=4096,
        ge=1,
        le=1_000_000,
        description=(
            "Output limit the gateway applies to calls that set none, so that their worst-case "
            "cost can be reserved before they run."
        ),
    )
    gateway_durable_writes: bool = Field(
        default=True,
        description=(
            "Whether the gateway's settlements and call spans wait for the disk flush before "
            "going on. Off, they survive a crash of Corral but the last moment of them may be "
            "lost in a crash of the machine. (A call's budget hold never waits for the flush: "
            "it matters only while the call runs, which a crash of the machine ends.)"
        ),
    )
    gateway_record_delay_ms: float = Field(
        default=10,
        ge=0,
        le=1_000,
        description=(
            "How long after a call answers its settlement and span are written, by a worker "
            "thread that writes the calls finishing meanwhile together. 0 writes each call on "
            "its own request, after the answer."
        ),
    )
    gateway_recorder: Literal["process", "threads"] = Field(
        default="process",
        description=(
            "Where `corral serve` settles and records gateway calls and judges their sessions: "
            "`process`, a process of its own, so that this work does not hold up the calls "
            "being answered; `threads`, threads of the server process."
        ),
    )
    gateway_record_content_bytes: int = Field(
        default=32 * 1024,
        ge=0,
        description=(
            "How much of each call's messages and answer the gateway records on its span "
            "(0 records no content)."
        ),
    )
    detection_mode: Literal["background", "inline", "off"] = Field(
        default="background",
        description=(
            "How silent-failure detection follows ingest: `background` queues the sessions each "
            "committed batch touches for a worker thread (ingest does not wait), `inline` judges "
            "them on the ingest request before it answers, `off` does not detect."
        ),
    )
    detection_queue_sessions: int = Field(
        default=10_000,
        ge=1,
        description=(
            "Sessions waiting for detection per process (background mode). When full, ingest "
            "waits up to 5 s for room, then that session is judged at its next batch."
        ),
    )
    detection_gather_ms: float = Field(
        default=200,
        ge=0,
        le=5_000,
        description=(
            "How long the detection worker lets batches gather after the first one arrives "
            "(background mode), so that a session's calls and exports of that moment cost one "
            "pass; findings come that much later."
        ),
    )
    detection_memory_mb: float = Field(
        default=64,
        ge=0,
        description=(
            "Memory the detection worker may use per process to hold the spans of recent "
            "sessions (background mode), so that a pass over a growing session reads only its "
            "new spans; least recently used sessions are dropped first and read again when "
            "needed. 0 reads each session whole at every pass."
        ),
    )
    detection_share_under_load: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description=(
            "The share of the time the detection worker may spend judging sessions while ingest "
            "is queued for the database (background mode, SQLite): ingest comes first under a "
            "load beyond capacity, and findings come later. At other times it takes up to half."
        ),
    )
    metric_rules_interval_seconds: float = Field(
        default=60.0,
        ge=1,
        description="How often metric alert rules (cost, error rate, latency, finding rate) are "
        "evaluated.",
    )
    rollout_interval_seconds: float = Field(
        default=60.0,
        ge=1,
        description="How often running rollouts are checked and their due steps judged.",
    )
    admin_email: str = Field(
        default="admin@localhost",
        description="Login of the workspace administrator created on first start.",
    )
    workspace_name: str = Field(
        default="default", description="Name given to the workspace created on first start."
    )

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    def resolved_database_url(self) -> str:
        """The database URL to connect to, defaulting to the SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'corral.db'}"

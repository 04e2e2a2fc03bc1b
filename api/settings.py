"""One typed settings object, read from the environment once.

Every knob the service has lives here so that operators find them in one place
and tests can build a variant with `dataclasses.replace`.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from privacy.release.rules import ReleasePolicy

MIN_SECRET_LENGTH = 32
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
"""In the data directory: the development server's signing key, made on first start."""

Environment = Literal["development", "production"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_NAME = ".saferoutes"


def default_data_dir(project_root: Path = PROJECT_ROOT, environ: Mapping[str, str] | None = None) -> Path:
    """Where the embedded database lives when SAFEROUTES_DATA_DIR is unset: never the current directory.

    In a source checkout (``pyproject.toml`` beside the code, how the README
    installs it) that is ``<checkout>/.saferoutes``; otherwise the per-user
    data folder, ``$XDG_DATA_HOME/saferoutes`` (``~/.local/share/saferoutes``).
    The service and every command resolve it the same way, from any folder.
    """
    if (project_root / "pyproject.toml").is_file():
        return project_root / DATA_DIR_NAME
    env = os.environ if environ is None else environ
    base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base.expanduser().absolute() / "saferoutes"


def data_dir_from(environ: Mapping[str, str]) -> Path:
    """SAFEROUTES_DATA_DIR made absolute once (a relative one is taken from where the process
    starts), else `default_data_dir`."""
    raw = environ.get("SAFEROUTES_DATA_DIR")
    if raw:
        return Path(raw).expanduser().absolute()
    return default_data_dir(environ=environ)


class SettingsError(ValueError):
    """The environment describes a configuration the service must not run with."""


@dataclass(frozen=True)
class Settings:
    env: Environment = "development"
    database_url: str | None = None
    # A streaming replica for reads that tolerate lag (exports, public reads; api/replica.py),
    # used while its lag stays within database_read_max_lag_s; the primary otherwise.
    database_read_url: str | None = None
    database_read_max_lag_s: float = 30.0
    data_dir: Path = field(default_factory=default_data_dir)
    # Set from SAFEROUTES_SECRET_KEY, or (development) the data directory's key file; a Settings built
    # in code gets a random key of its own, so no key the service signs with is written in its source.
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    jwt_issuer: str = "saferoutes"
    jwt_audience: str = "saferoutes-app"
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    privacy_policy_version: str = "2026-01"
    # Every figure of people that leaves the system is a differentially private release
    # (docs/privacy.md): each release's epsilon and delta, its base resolution and per-person
    # bounds (cells per person, passes per cell), and the epsilon all releases touching one
    # calendar month may add up to.
    privacy_epsilon: float = 1.0
    privacy_delta: float = 1e-6
    privacy_budget: float = 4.0
    release_resolution: int = 8
    release_max_cells: int = 8
    release_max_passes: int = 32
    retention_days: int = 365
    h3_resolution: int = 10
    max_body_bytes: int = 1_000_000
    # Connections each worker keeps to PostgreSQL (a fixed pool: workers x this must stay
    # below the server's max_connections).
    db_pool_size: int = 20
    # Requests per minute per authenticated user on write endpoints, and per
    # client address on registration; login attempts per handle and address.
    rate_limit_per_minute: int = 120
    register_per_hour: int = 20
    # A registration with a valid class join code is bounded per code instead of per address
    # (a class enrolling from one school network); it still counts against the address.
    register_per_join_code_per_day: int = 60
    login_attempts_per_minute: int = 10
    # Only when a trusted reverse proxy sets it is X-Forwarded-For believed.
    trust_forwarded_for: bool = False
    redis_url: str | None = None
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    # Threads per worker that hash and check passwords, off the event loop; at most this many
    # hashes (argon2_memory_kib each) run at once per worker, later logins queue.
    password_workers: int = 2
    # Safe routes: a worker's routing graph is never older than routing_max_age_s; it reads
    # the data's stamp at most every routing_check_s and rebuilds once a hazard changed or a
    # new month was released (docs/routing.md).
    routing_max_age_s: int = 300
    routing_check_s: int = 30
    # Open data (docs/open-data.md): NGSI-LD entities and daily dumps; cell statistics of the
    # last whole month at this resolution (the release's or coarser); hazard changes pushed to
    # the broker when its URL is set.
    open_data_resolution: int = 8
    ngsi_broker_url: str | None = None
    ngsi_alert_source: str = "urn:ngsi-ld:SafeRoutes:citizen-reports"
    # The planner map's basemap (docs/planner-map.md): a raster tile URL template
    # (https://tile.example/{z}/{x}/{y}.png) drawn instead of the imported streets; its origin,
    # and nothing else, joins the page's img-src.
    basemap_tiles: str | None = None
    log_level: str = "INFO"
    # Whether responses reveal internal errors; never in production.
    debug: bool = False

    def release_policy(self) -> ReleasePolicy:
        return ReleasePolicy(
            epsilon=self.privacy_epsilon,
            delta=self.privacy_delta,
            resolution=self.release_resolution,
            max_cells=self.release_max_cells,
            max_passes=self.release_max_passes,
            budget_epsilon=self.privacy_budget,
        )

    def _validate_privacy(self) -> None:
        if not (0 < self.privacy_epsilon <= 10 and 0 < self.privacy_delta < 1e-3):
            raise SettingsError(
                "SAFEROUTES_PRIVACY_EPSILON must be in (0, 10], SAFEROUTES_PRIVACY_DELTA in (0, 0.001)"
            )
        if self.privacy_budget < self.privacy_epsilon:
            raise SettingsError("SAFEROUTES_PRIVACY_BUDGET must be at least SAFEROUTES_PRIVACY_EPSILON")
        if not 7 <= self.release_resolution <= self.h3_resolution:
            raise SettingsError(
                "SAFEROUTES_RELEASE_RESOLUTION must be between 7 and SAFEROUTES_H3_RESOLUTION"
            )
        if not (1 <= self.release_max_cells <= 1000 and 1 <= self.release_max_passes <= 1000):
            raise SettingsError(
                "SAFEROUTES_RELEASE_MAX_CELLS and SAFEROUTES_RELEASE_MAX_PASSES must be 1 to 1000"
            )

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def validate(self) -> Settings:
        """Refuse configurations that would be unsafe, before anything starts."""
        if self.is_production:
            if len(self.secret_key) < MIN_SECRET_LENGTH:
                raise SettingsError(
                    "SAFEROUTES_SECRET_KEY must be set to a random value of at least "
                    f"{MIN_SECRET_LENGTH} characters in production"
                )
            if self.debug:
                raise SettingsError("SAFEROUTES_DEBUG must be off in production")
        if not 0 < self.access_token_ttl_s <= 15 * 60:
            raise SettingsError("SAFEROUTES_ACCESS_TOKEN_TTL must be between 1 and 900 seconds")
        if self.refresh_token_ttl_s <= 0:
            raise SettingsError("SAFEROUTES_REFRESH_TOKEN_TTL must be positive")
        if not 7 <= self.h3_resolution <= 12:
            raise SettingsError("SAFEROUTES_H3_RESOLUTION must be between 7 and 12")
        self._validate_privacy()
        if self.retention_days < 1:
            raise SettingsError("SAFEROUTES_RETENTION_DAYS must be at least 1")
        if self.routing_max_age_s < 1 or self.routing_check_s < 0:
            raise SettingsError(
                "SAFEROUTES_ROUTING_MAX_AGE_S must be at least 1, SAFEROUTES_ROUTING_CHECK_S at least 0"
            )
        if not 7 <= self.open_data_resolution <= self.release_resolution:
            raise SettingsError(
                "SAFEROUTES_OPEN_DATA_RESOLUTION must be between 7 and SAFEROUTES_RELEASE_RESOLUTION"
            )
        if self.ngsi_broker_url is not None and not self.ngsi_broker_url.startswith(("http://", "https://")):
            raise SettingsError("SAFEROUTES_NGSI_BROKER_URL must be an http(s) URL")
        if self.database_read_url is not None and not self.database_url:
            raise SettingsError(
                "SAFEROUTES_DATABASE_READ_URL needs DATABASE_URL: the embedded database has no replica"
            )
        if not 0 < self.database_read_max_lag_s <= 86400:
            raise SettingsError("SAFEROUTES_DATABASE_READ_MAX_LAG_S must be in (0, 86400] seconds")
        if self.basemap_tiles is not None:
            check_tile_template(self.basemap_tiles, https_only=self.is_production)
        if not 1 <= self.db_pool_size <= 200:
            raise SettingsError("SAFEROUTES_DB_POOL_SIZE must be between 1 and 200")
        if not 1 <= self.password_workers <= 64:
            raise SettingsError("SAFEROUTES_PASSWORD_WORKERS must be between 1 and 64")
        if self.max_body_bytes < 1024:
            raise SettingsError("SAFEROUTES_MAX_BODY_BYTES must be at least 1024")
        return self


_TILE_HOST = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$")
_TILE_PATH = re.compile(r"^[A-Za-z0-9/._~%{}@-]*$")


def check_tile_template(template: str, *, https_only: bool = False) -> str:
    """The origin (``scheme://host[:port]``) of a tile URL template, after checking the template.

    It goes into a Content-Security-Policy, so nothing but a plain origin may come out of it: no
    user info, no query, no character a policy or an attribute would read as a separator.
    """
    name = "SAFEROUTES_BASEMAP_TILES"
    parts = urlsplit(template)
    schemes = ("https",) if https_only else ("https", "http")
    if parts.scheme not in schemes or not _TILE_HOST.match(parts.netloc):
        raise SettingsError(f"{name} must be an {'https' if https_only else 'http(s)'} URL of a plain host")
    if parts.query or parts.fragment or not _TILE_PATH.match(parts.path):
        raise SettingsError(
            f"{name} may hold a path only: letters, digits, / . _ ~ % - and {{z}} {{x}} {{y}}"
        )
    if any(f"{{{v}}}" not in parts.path for v in "zxy"):
        raise SettingsError(f"{name} must hold {{z}}, {{x}} and {{y}} in its path")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc
    if value != value or value in (float("inf"), float("-inf")):
        raise SettingsError(f"{name} must be a finite number, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def development_secret(data_dir: Path) -> str:
    """The data directory's own signing key, made at random on first start and kept with the data.

    A development server left reachable must not sign with a key anyone can
    read in the source. The file appears complete or not at all (written
    aside, then linked into place), so workers starting together agree on one
    key; it is readable by its owner only.
    """
    path = data_dir / SECRET_KEY_FILE
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            descriptor, draft = tempfile.mkstemp(dir=data_dir, prefix=".secret-")
            try:
                with os.fdopen(descriptor, "w") as out:
                    out.write(secrets.token_urlsafe(48) + "\n")
                    out.flush()
                    os.fsync(out.fileno())
                with contextlib.suppress(FileExistsError):  # another process was first: use its key
                    os.link(draft, path)
            finally:
                os.unlink(draft)
        key = path.read_text().strip()
    except OSError as exc:
        raise SettingsError(
            f"cannot keep a signing key in {data_dir} ({exc.strerror}): set SAFEROUTES_SECRET_KEY"
        ) from exc
    if len(key) < MIN_SECRET_LENGTH:
        raise SettingsError(f"{path} holds no usable key: delete it, and a new one is made on start")
    return key


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment (or the mapping given) and validate them.

    Without SAFEROUTES_SECRET_KEY a development server signs with its data
    directory's key (`development_secret`); production refuses to start.
    """
    env = os.environ if environ is None else environ
    mode = env.get("SAFEROUTES_ENV", "development")
    if mode not in ("development", "production"):
        raise SettingsError(f"SAFEROUTES_ENV must be development or production, got {mode!r}")
    defaults = Settings()
    data_dir = data_dir_from(env)
    secret_key = env.get("SAFEROUTES_SECRET_KEY") or ""
    if not secret_key and mode == "development":
        secret_key = development_secret(data_dir)
    settings = Settings(
        env=mode,  # type: ignore[arg-type]  # checked just above
        database_url=env.get("DATABASE_URL") or None,
        database_read_url=env.get("SAFEROUTES_DATABASE_READ_URL") or None,
        database_read_max_lag_s=_float(
            env, "SAFEROUTES_DATABASE_READ_MAX_LAG_S", defaults.database_read_max_lag_s
        ),
        data_dir=data_dir,
        secret_key=secret_key,
        jwt_issuer=env.get("SAFEROUTES_JWT_ISSUER") or defaults.jwt_issuer,
        jwt_audience=env.get("SAFEROUTES_JWT_AUDIENCE") or defaults.jwt_audience,
        access_token_ttl_s=_int(env, "SAFEROUTES_ACCESS_TOKEN_TTL", defaults.access_token_ttl_s),
        refresh_token_ttl_s=_int(env, "SAFEROUTES_REFRESH_TOKEN_TTL", defaults.refresh_token_ttl_s),
        privacy_policy_version=env.get("SAFEROUTES_POLICY_VERSION") or defaults.privacy_policy_version,
        privacy_epsilon=_float(env, "SAFEROUTES_PRIVACY_EPSILON", defaults.privacy_epsilon),
        privacy_delta=_float(env, "SAFEROUTES_PRIVACY_DELTA", defaults.privacy_delta),
        privacy_budget=_float(env, "SAFEROUTES_PRIVACY_BUDGET", defaults.privacy_budget),
        release_resolution=_int(env, "SAFEROUTES_RELEASE_RESOLUTION", defaults.release_resolution),
        release_max_cells=_int(env, "SAFEROUTES_RELEASE_MAX_CELLS", defaults.release_max_cells),
        release_max_passes=_int(env, "SAFEROUTES_RELEASE_MAX_PASSES", defaults.release_max_passes),
        retention_days=_int(env, "SAFEROUTES_RETENTION_DAYS", defaults.retention_days),
        h3_resolution=_int(env, "SAFEROUTES_H3_RESOLUTION", defaults.h3_resolution),
        max_body_bytes=_int(env, "SAFEROUTES_MAX_BODY_BYTES", defaults.max_body_bytes),
        db_pool_size=_int(env, "SAFEROUTES_DB_POOL_SIZE", defaults.db_pool_size),
        rate_limit_per_minute=_int(env, "SAFEROUTES_RATE_LIMIT_PER_MINUTE", defaults.rate_limit_per_minute),
        register_per_hour=_int(env, "SAFEROUTES_REGISTER_PER_HOUR", defaults.register_per_hour),
        register_per_join_code_per_day=_int(
            env, "SAFEROUTES_REGISTER_PER_JOIN_CODE_PER_DAY", defaults.register_per_join_code_per_day
        ),
        trust_forwarded_for=_bool(env, "SAFEROUTES_TRUST_FORWARDED_FOR", defaults.trust_forwarded_for),
        login_attempts_per_minute=_int(
            env, "SAFEROUTES_LOGIN_ATTEMPTS_PER_MINUTE", defaults.login_attempts_per_minute
        ),
        redis_url=env.get("REDIS_URL") or None,
        argon2_time_cost=_int(env, "SAFEROUTES_ARGON2_TIME_COST", defaults.argon2_time_cost),
        argon2_memory_kib=_int(env, "SAFEROUTES_ARGON2_MEMORY_KIB", defaults.argon2_memory_kib),
        password_workers=_int(env, "SAFEROUTES_PASSWORD_WORKERS", defaults.password_workers),
        routing_max_age_s=_int(env, "SAFEROUTES_ROUTING_MAX_AGE_S", defaults.routing_max_age_s),
        routing_check_s=_int(env, "SAFEROUTES_ROUTING_CHECK_S", defaults.routing_check_s),
        open_data_resolution=_int(env, "SAFEROUTES_OPEN_DATA_RESOLUTION", defaults.open_data_resolution),
        ngsi_broker_url=(env.get("SAFEROUTES_NGSI_BROKER_URL") or "").rstrip("/") or None,
        ngsi_alert_source=env.get("SAFEROUTES_NGSI_ALERT_SOURCE") or defaults.ngsi_alert_source,
        basemap_tiles=env.get("SAFEROUTES_BASEMAP_TILES") or None,
        log_level=env.get("SAFEROUTES_LOG_LEVEL") or defaults.log_level,
        debug=_bool(env, "SAFEROUTES_DEBUG", defaults.debug),
    )
    return settings.validate()

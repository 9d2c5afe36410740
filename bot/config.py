"""The daemon's configuration file: which one, reading it (secrets from the environment win over
the file), and the data folder it names. Its shape and error wording are `bot.schema`'s.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.errors import ConfigError
from bot.logs import remember_secret
from bot.schema import (
    WEBHOOK_SECRET,
    WEBHOOK_SECRET_RULE,
    Config,
    StoreConfig,
    read_toml,
    validated,
)

TOKEN_ENV = "NEWSBOT_TELEGRAM_TOKEN"
WEBHOOK_SECRET_ENV = "NEWSBOT_TELEGRAM_WEBHOOK_SECRET"
CONFIG_ENV = "NEWSBOT_CONFIG"
STORE_PASSWORD_ENV = "NEWSBOT_STORE_PASSWORD"


def find_config(cli_path: str | None, environ: Mapping[str, str]) -> tuple[Path, str | None]:
    """Which config file to use, and a notice when it is the example's fallback."""
    chosen = cli_path or environ.get(CONFIG_ENV)
    if chosen:
        return Path(chosen), None
    default = Path("config.toml")
    if default.exists():
        return default, None
    example = Path("config.example.toml")
    if example.exists():
        notice = "config.toml not found: using config.example.toml (copy it to config.toml to edit)"
        return example, notice
    return default, None


def missing_config_hint(cli_path: str | None, environ: Mapping[str, str]) -> str:
    """What to do when the chosen config file does not exist, by who chose it."""
    if cli_path:
        return "check the path given to --config"
    if environ.get(CONFIG_ENV):
        return f"check ${CONFIG_ENV}, or unset it"
    return "run `newsbot init` to write config.toml and feeds/ here, or give --config PATH"


def load_config(
    path: Path, environ: Mapping[str, str] | None = None, *, missing_hint: str = ""
) -> Config:
    """Read and validate a config file; secrets from the environment win over the file."""
    environ = os.environ if environ is None else environ
    hint = missing_hint or missing_config_hint(None, environ)
    raw = read_toml(path, ConfigError, hint=hint)
    config = validated(Config, raw, path, ConfigError)
    base = path.resolve().parent
    token = environ.get(TOKEN_ENV) or config.token
    secret = environ.get(WEBHOOK_SECRET_ENV) or config.telegram.webhook_secret.get_secret_value()
    if secret and not WEBHOOK_SECRET.match(secret):
        raise ConfigError(
            f"{WEBHOOK_SECRET_ENV}: must be {WEBHOOK_SECRET_RULE}",
            hint="unset it to derive one from the token",
        )
    telegram = config.telegram.with_secrets(token, secret)
    url = config.store.url
    in_url = unquote(urlsplit(url).password or "") if url.startswith("postgres") else ""
    password = environ.get(STORE_PASSWORD_ENV) or in_url or config.store.password.get_secret_value()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_absolute():
        url = f"sqlite:///{base / url.removeprefix('sqlite:///')}"
    store = StoreConfig.holding(url, password)
    for known in (token, secret, password):  # from here on, no log line or error shows them
        remember_secret(known)
    return config.model_copy(
        update={
            "path": path.resolve(),
            "data_dir": base / config.data_dir,
            "feeds_dir": base / config.feeds_dir,
            "telegram": telegram,
            "store": store,
        }
    )


def ensure_data_dir(config: Config) -> None:
    """Create data_dir if needed and check newsbot can write in it: else a ConfigError naming the
    config file, the key and the fix (instead of an unexpected PermissionError later)."""
    where = f"{config.path or 'config'}: data_dir"
    path = config.data_dir
    fix = "set data_dir to a folder newsbot may write in"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{where}: {path} is a file, not a folder", hint=fix)
    if path.resolve().parts[1:2] in (("proc",), ("sys",), ("dev",)):
        raise ConfigError(f"{where}: {path} is in a kernel file system, not storage", hint=fix)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".newsbot-write-check-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{where}: cannot write in {path}: {exc.strerror or exc}",
            hint=f"{fix}, or let newsbot's user write there",
        ) from None

"""The systemd unit of the plant service: rendered from the `boiler/boiler.service` template.

`boiler install-service` writes it and prints the commands that enable it; it runs them only when
asked (`--enable`). The watchdog period follows the config: the service pings after every tick, and
a tick can take the miner timeouts of one poll and of one verified command with its retries.
"""

from __future__ import annotations

import grp
import math
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

from boiler.config import PlantConfig, ServiceConfig

UNIT_NAME = "boiler.service"
STATE_DIR = Path("/var/lib/boiler")
DEFAULT_UNIT_DIR = Path("/etc/systemd/system")
ENV_FILE = Path("/etc/boiler/boiler.env")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")


class UnitError(ValueError):
    """Bad input for the unit (user name, paths); the message says what to change."""


def check_user(name: str) -> str:
    if not _USER.match(name):
        raise UnitError(f"user {name!r} is not a valid system user name (lower case, digits, '_' and '-', "
                        "at most 31 characters, not starting with a digit)")
    return name


def worst_tick_s(service: ServiceConfig) -> float:
    """Longest a tick may take: a poll (one timeout), a command read back with up to three attempts
    and their backoff (three timeouts and ~2 s), and a few seconds of store, MQTT and telemetry."""
    return 4.0 * service.miner_timeout_s + 5.0


def watchdog_s(service: ServiceConfig) -> int:
    """Twice the longest gap between two pings (a tick period that starts late after an overrun)."""
    return math.ceil(max(30.0, 2.0 * (service.tick_s + worst_tick_s(service))))


def stop_timeout_s(cfg: PlantConfig) -> int:
    """The clean stop: miners left as `on_exit` says (2 timeouts), MQTT flush (2 s), telemetry flush
    (one miner timeout, then up to `close_timeout_s`), with room to spare."""
    telemetry_s = cfg.telemetry.close_timeout_s if cfg.telemetry is not None else 0.0
    return math.ceil(max(30.0, 3.0 * cfg.service.miner_timeout_s + 2.0 + telemetry_s + 15.0))


def default_executable() -> Path | None:
    """The `boiler` script of this installation: next to the running Python (a venv), else on PATH."""
    beside = Path(sys.executable).parent / "boiler"  # not resolved: a venv's python is a symlink
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    found = shutil.which("boiler")
    return Path(found).absolute() if found else None


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def writable_paths(cfg: PlantConfig) -> list[Path]:
    """Folders outside /var/lib/boiler the service writes to (ProtectSystem=strict makes them read-only).

    Relative paths are relative to WorkingDirectory=/var/lib/boiler, so they need nothing."""
    wanted = [cfg.service.state_path]
    if cfg.telemetry is not None:
        wanted.append(cfg.telemetry.outbox_path)
    out: list[Path] = []
    for path in wanted:
        if path.is_absolute() and not _under(path, STATE_DIR) and path.parent not in out:
            out.append(path.parent)
    return out


#: Folders the unit's sandboxing replaces with empty private ones (PrivateTmp=yes).
PRIVATE_TMP_DIRS = (Path("/tmp"), Path("/var/tmp"))


def hidden_paths(cfg: PlantConfig, config_path: Path, executable: Path | None = None) -> list[tuple[str, Path]]:
    """What the service needs but will not see: (what, path) for every path under a folder that
    `PrivateTmp=yes` replaces with an empty private one (the config, the venv, state, TLS files)."""
    wanted: list[tuple[str, Path | None]] = [
        ("the config file", config_path),
        ("the boiler command", executable or default_executable()),
        ("the Python environment", Path(sys.prefix)),
        ("service.state_path", cfg.service.state_path),
    ]
    if cfg.telemetry is not None:
        wanted.append(("telemetry.outbox_path", cfg.telemetry.outbox_path))
    if cfg.mqtt is not None and cfg.mqtt.broker.tls is not None:
        tls = cfg.mqtt.broker.tls
        wanted += [("mqtt.broker.tls.ca_file", tls.ca_file), ("mqtt.broker.tls.cert_file", tls.cert_file),
                   ("mqtt.broker.tls.key_file", tls.key_file)]
    out = []
    for what, path in wanted:
        if path is not None and path.is_absolute() and any(_under(path, d) for d in PRIVATE_TMP_DIRS):
            out.append((what, path))
    return out


def closed_folder(path: Path, user: str) -> Path | None:
    """The first folder on the way to `path` that `user` may not enter (no search permission), or None.

    A user that does not exist yet is taken as neither owner nor group member of anything."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        uid, gids = None, set()
    else:
        uid = entry.pw_uid
        gids = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    if uid == 0:
        return None
    for folder in reversed(path.parents):
        try:
            st = folder.stat()
        except OSError:
            return None  # not there (yet): nothing to say about its permissions
        if st.st_uid == uid:
            allowed = st.st_mode & stat.S_IXUSR
        elif st.st_gid in gids:
            allowed = st.st_mode & stat.S_IXGRP
        else:
            allowed = st.st_mode & stat.S_IXOTH
        if not allowed:
            return folder
    return None


def unreachable_paths(config_path: Path, user: str, executable: Path | None = None) -> list[tuple[str, Path, Path]]:
    """(what, path, closed folder) for the config, the command and the Python environment the service
    user cannot reach (e.g. a venv under /root, mode 0700)."""
    out = []
    for what, path in (("the config file", config_path), ("the boiler command", executable or default_executable()),
                       ("the Python environment", Path(sys.prefix))):
        if path is not None and path.is_absolute():
            closed = closed_folder(path, user)
            if closed is not None:
                out.append((what, path, closed))
    return out


def quote_arg(arg: str) -> str:
    """One ExecStart argument: `%` and `$` escaped (specifiers, variables), quoted when needed."""
    text = arg.replace("%", "%%").replace("$", "$$")
    if re.search(r"[\s\"'\\;]", text):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _path_setting(path: Path) -> str:
    text = str(path).replace("%", "%%")
    if re.search(r"\s", text):
        raise UnitError(f"{path}: a path with spaces cannot be made writable by ReadWritePaths; move it")
    return text


def render_unit(cfg: PlantConfig, config_path: Path, *, user: str = "boiler",
                executable: Path | None = None) -> str:
    """The unit text for this config (absolute `config_path`)."""
    check_user(user)
    if not config_path.is_absolute():
        raise UnitError(f"{config_path}: the unit needs an absolute config path")
    exe = executable or default_executable()
    if exe is None:
        raise UnitError("cannot find the `boiler` command of this installation; install the package first")
    template = files("boiler").joinpath("boiler.service").read_text(encoding="utf-8")
    rw = writable_paths(cfg)
    values = {
        "@DESCRIPTION@": f"Mining hot-water boiler controller (site {cfg.site.name})",
        "@EXEC_START@": " ".join(quote_arg(a) for a in (str(exe), "run", "-c", str(config_path))),
        "@USER@": user,
        "@WATCHDOG_S@": str(watchdog_s(cfg.service)),
        "@TIMEOUT_STOP_S@": str(stop_timeout_s(cfg)),
        # A line of its own: with nothing to add, the line goes away.
        "@READ_WRITE_PATHS@\n": ("ReadWritePaths=" + " ".join(_path_setting(p) for p in rw) + "\n") if rw else "",
    }
    text = template
    for key, value in values.items():
        text = text.replace(key, value)
    left = _PLACEHOLDER.findall(text)
    if left:
        raise AssertionError(f"unit template has unfilled placeholders: {left}")
    return text


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections → key → values (a key may repeat), ignoring comments; enough to test a rendered unit."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            raise ValueError(f"not a unit file line: {raw!r}")
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def install_unit(text: str, unit_dir: Path) -> Path:
    """Write the unit (replacing it atomically); PermissionError when the folder needs root."""
    unit_dir.mkdir(parents=True, exist_ok=True)
    target = unit_dir / UNIT_NAME
    tmp = unit_dir / f".{UNIT_NAME}.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o644)
    tmp.replace(target)
    return target


def next_steps(user: str, config_path: Path, unit_dir: Path) -> list[str]:
    """What an administrator runs after the unit is written (shown, never run unless asked)."""
    steps = [
        f"id -u {user} >/dev/null 2>&1 || useradd --system --home-dir {STATE_DIR} --no-create-home "
        f"--shell /usr/sbin/nologin {user}",
        f"chown root:{user} {config_path} && chmod 0640 {config_path}",
        f"boiler check -c {config_path}",
    ]
    user_dir = unit_dir != DEFAULT_UNIT_DIR and unit_dir != Path("/lib/systemd/system")
    steps += enable_commands() if not user_dir else [
        f"# {unit_dir} is not a system unit folder: copy {UNIT_NAME} to {DEFAULT_UNIT_DIR}, then:",
        *enable_commands(),
    ]
    steps.append("journalctl -u boiler -f")
    return steps


def enable_commands() -> list[str]:
    return ["systemctl daemon-reload", f"systemctl enable --now {UNIT_NAME}"]


def run_enable(systemctl: str = "systemctl") -> list[subprocess.CompletedProcess[str]]:
    """`daemon-reload` then `enable --now` (for `install-service --enable`); stops at the first failure."""
    done = []
    for args in (["daemon-reload"], ["enable", "--now", UNIT_NAME]):
        result = subprocess.run([systemctl, *args], capture_output=True, text=True, check=False)
        done.append(result)
        if result.returncode != 0:
            break
    return done



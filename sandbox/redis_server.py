"""The sandbox's Redis: Debian's redis-server with append-only persistence."""

from __future__ import annotations

from pathlib import Path

from sandbox.layout import Layout
from sandbox.processes import LOOPBACK, find_binary

REDIS_HINT = (
    "install Redis (Debian: apt-get install redis-server) or pass --redis-server"
)


def find_redis_server(configured: Path | None = None) -> Path:
    """The redis-server binary: the configured path or the one on PATH."""
    if configured is not None:
        return find_binary(
            configured.name, directory=configured.parent, hint=REDIS_HINT
        )
    return find_binary("redis-server", hint=REDIS_HINT)


def write_redis_config(layout: Layout, port: int) -> Path:
    """Write redis.conf: loopback, AOF on, password from the generated secret.

    The password goes in a 0600 file rather than the command line, where any
    local user could read it in the process list.
    """
    password = layout.secret("redis-password").read_text().strip()
    conf = layout.redis_dir / "redis.conf"
    conf.write_text(
        f"bind {LOOPBACK}\n"
        f"port {port}\n"
        "protected-mode yes\n"
        f"dir {layout.redis_dir}\n"
        "appendonly yes\n"
        "appendfsync everysec\n"
        'save ""\n'
        f"requirepass {password}\n",
        encoding="utf-8",
    )
    conf.chmod(0o600)
    return conf


def redis_command(binary: Path, conf: Path) -> list[str]:
    """The command line of the sandbox's Redis."""
    return [str(binary), str(conf)]

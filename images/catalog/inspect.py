"""What the image page shows of `docker image inspect`."""

import re
from dataclasses import dataclass
from datetime import datetime

_FRACTION = re.compile(r"\.(\d{6})\d+")


def parse_engine_time(text):
    """The engine's RFC 3339 times carry nanoseconds; datetime takes microseconds."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(_FRACTION.sub(r".\1", text))
    except ValueError:
        return None


@dataclass
class ImageSummary:
    id: str
    tags: list
    digests: list
    architecture: str
    os: str
    created: datetime | None
    size: int
    entrypoint: list
    cmd: list
    workdir: str
    user: str
    env: list
    exposed_ports: list
    volumes: list
    labels: dict

    @property
    def platform(self):
        return "/".join(part for part in (self.os, self.architecture) if part)


def summarize(inspect):
    config = inspect.get("Config") or {}
    return ImageSummary(
        id=inspect["Id"],
        tags=inspect.get("RepoTags") or [],
        digests=inspect.get("RepoDigests") or [],
        architecture=inspect.get("Architecture") or "",
        os=inspect.get("Os") or "",
        created=parse_engine_time(inspect.get("Created")),
        size=inspect.get("Size") or 0,
        entrypoint=config.get("Entrypoint") or [],
        cmd=config.get("Cmd") or [],
        workdir=config.get("WorkingDir") or "",
        user=config.get("User") or "",
        env=config.get("Env") or [],
        exposed_ports=sorted(config.get("ExposedPorts") or {}),
        volumes=sorted(config.get("Volumes") or {}),
        labels=dict(sorted((config.get("Labels") or {}).items())),
    )


def containers_of(image_id, containers):
    return [container for container in containers if container.get("ImageID") == image_id]


def container_name(container):
    names = container.get("Names") or []
    return names[0].lstrip("/") if names else container.get("Id", "")[:12]

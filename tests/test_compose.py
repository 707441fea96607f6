"""``compose.yaml`` and the ``Dockerfile`` agree with the settings and the README: every
variable set is one the settings read, the commands are the README's, each Celery queue has a
worker, and every app of ours is in the image."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.apps import apps
from django.conf import settings

from energygrid.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = {name: s for name, s in SERVICES.items() if s.get("build") == "."}
DOCKERFILE = (ROOT / "Dockerfile").read_text()
README = (ROOT / "README.md").read_text()


def settings_variables() -> set[str]:
    """The environment variables the settings read (all through energygrid.env)."""
    source = (ROOT / "energygrid" / "settings.py").read_text()
    return set(re.findall(r'env_(?:str|bool|int|list|rate|decimal)\(\s*"([A-Z0-9_]+)"', source))


def command(service: str) -> list[str]:
    value = SERVICES[service]["command"]
    return value if isinstance(value, list) else shlex.split(value)


def readme_table_variables() -> set[str]:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", section, re.M))


def test_the_stack_has_web_workers_beat_postgres_and_redis():
    assert {"web", "beat", "db", "redis", "migrate"} <= set(SERVICES)
    assert SERVICES["db"]["image"].startswith("postgres:")
    assert SERVICES["redis"]["image"].startswith("redis:")
    beats = [name for name in APP_SERVICES if "beat" in command(name)]
    assert beats == ["beat"], "exactly one beat per deployment"


def test_app_services_set_only_variables_the_settings_read_and_all_they_require():
    known = settings_variables()
    assert known <= readme_table_variables(), "every setting is in the README's table"
    for name, service in APP_SERVICES.items():
        environment = service["environment"]
        assert set(environment) <= known, (name, set(environment) - known)
        assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY"} <= set(environment), name
        assert environment["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?"), (
            "never a secret key baked into the file"
        )


def test_urls_point_at_the_compose_database_and_redis():
    db = SERVICES["db"]["environment"]
    for service in APP_SERVICES.values():
        database = urlsplit(service["environment"]["DATABASE_URL"])
        assert (database.scheme, database.hostname, database.port) == ("postgres", "db", 5432)
        assert (database.username, database.password, database.path) == (
            db["POSTGRES_USER"],
            db["POSTGRES_PASSWORD"],
            f"/{db['POSTGRES_DB']}",
        )
        assert urlsplit(service["environment"]["REDIS_URL"]).hostname == "redis"


def test_web_runs_the_image_s_own_command_and_everything_waits_for_migrations():
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M)
    assert cmd, "the Dockerfile's CMD is an exec-form list"
    assert command("web") == json.loads(cmd.group(1))
    assert command("migrate") == ["python", "manage.py", "migrate", "--no-input"]
    for name, service in APP_SERVICES.items():
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == (
                "service_completed_successfully"
            ), name
    assert SERVICES["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_every_celery_queue_has_a_worker_running_the_project_s_app():
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    needed = routed | {celery_app.conf.task_default_queue}
    served: set[str] = set()
    for name in APP_SERVICES:
        argv = command(name)
        if argv[:2] != ["celery", "-A"]:
            continue
        assert argv[2] == "energygrid" and celery_app.main == "energygrid"
        if argv[3] == "worker":
            queues = (
                argv[argv.index("-Q") + 1] if "-Q" in argv else celery_app.conf.task_default_queue
            )
            served |= set(queues.split(","))
            assert f"celery -A energygrid worker -Q {queues}" in README or "-Q" not in argv
    assert needed <= served, needed - served


@pytest.mark.parametrize(
    "app_label",
    [config.name for config in apps.get_app_configs() if (ROOT / config.name).is_dir()],
)
def test_every_app_of_ours_is_built_into_the_image_and_the_wheel(app_label):
    assert f"COPY {app_label} ./{app_label}" in DOCKERFILE
    include = re.search(r"include = \[(.*?)\]", (ROOT / "pyproject.toml").read_text()).group(1)
    assert f'"{app_label}*"' in include


def test_the_readme_points_at_compose():
    assert "compose.yaml" in README and "docker compose up" in README

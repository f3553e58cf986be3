"""docker-compose.yml and the Dockerfile agree with the code.

There is no Docker engine here, so both files are parsed: service names, commands and
environment variables are checked against what the settings read, the Celery queues, the
WSGI module and the lock file. The last two tests run Django with the production settings.
"""

import functools
import importlib
import importlib.util
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import environ
import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
COMPOSE_FILE = BASE_DIR / "docker-compose.yml"
DOCKERFILE = BASE_DIR / "Dockerfile"
DOCKERIGNORE = BASE_DIR / ".dockerignore"
PROD_REQUIREMENTS = BASE_DIR / "requirements" / "prod.txt"

REQUIRED_SERVICES = ("postgres", "redis", "mailpit", "migrate", "web", "worker", "beat")
APP_SERVICES = ("migrate", "web", "worker", "beat")
# Read by Django itself rather than by oncall/settings.
DJANGO_ENV_NAMES = frozenset({"DJANGO_SETTINGS_MODULE"})
# What `docker compose` would see in the shell: only the variable it insists on.
COMPOSE_SHELL = {"SECRET_KEY": "compose-test-" + "k" * 50}
MAILPIT_DEFAULT_SMTP_PORT = 1025
POSTGRES_PORT = 5432
REDIS_PORT = 6379
DOCKER_DEFAULT_STOP_GRACE_SECONDS = 10.0

# env.str("NAME", env.db_url("NAME", env("NAME", os.environ.get("NAME", os.environ["NAME"]
_ENV_READ = re.compile(
    r"""(?:\benv(?:\.\w+)?|\bos\.getenv|\bos\.environ\.get)\(\s*["'](\w+)["']"""
    r"""|\bos\.environ\[\s*["'](\w+)["']\s*\]"""
)
_COMPOSE_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>\w+)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|(?P<bare>\w+))"
)


# --- settings ------------------------------------------------------------------------------


def settings_env_names() -> set[str]:
    """Every environment variable name read by a module in oncall/settings/."""
    names: set[str] = set()
    for path in sorted((BASE_DIR / "oncall" / "settings").glob("*.py")):
        for env_name, environ_name in _ENV_READ.findall(path.read_text()):
            names.add(env_name or environ_name)
    return names


def dotenv_names() -> set[str]:
    """Names set by the optional .env beside manage.py (base.py reads it too)."""
    path = BASE_DIR / ".env"
    if not path.exists():
        return set()
    lines = (line.strip().removeprefix("export ") for line in path.read_text().splitlines())
    return {line.split("=", 1)[0].strip() for line in lines if "=" in line and line[0] != "#"}


@functools.cache
def prod_requirements() -> dict[str, str]:
    """requirements/prod.txt as {normalised name: the whole entry, continuations joined}."""
    entries = re.sub(r"\\\n", " ", PROD_REQUIREMENTS.read_text()).splitlines()
    result: dict[str, str] = {}
    for entry in entries:
        entry = entry.split(" #", 1)[0].strip()
        if not entry or entry.startswith("#"):
            continue
        name = re.split(r"[\[=<>~! ;]", entry, maxsplit=1)[0]
        result[re.sub(r"[-_.]+", "-", name).lower()] = entry
    return result


def assert_locked(package: str, why: str) -> None:
    assert package in prod_requirements(), f"{package} is not in requirements/prod.txt ({why})"


# --- docker-compose.yml --------------------------------------------------------------------


@functools.cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    assert isinstance(data.get("services"), dict), "docker-compose.yml has no services mapping"
    return data


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def service(name: str) -> dict[str, Any]:
    assert name in services(), f"docker-compose.yml has no {name!r} service"
    return services()[name]


def interpolate(value: str, shell: Mapping[str, str] = COMPOSE_SHELL) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error}, ${VAR:+alt} and $$ substitution."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        op, arg = match["op"] or "", match["arg"] or ""
        current = shell.get(name)
        unset = current is None or (op.startswith(":") and current == "")
        if op.endswith("-"):
            return arg if unset else str(current)
        if op.endswith("?"):
            assert not unset, f"compose would refuse to start: {name} is required ({arg})"
            return str(current)
        if op.endswith("+"):
            return "" if unset else arg
        return current or ""

    return _COMPOSE_VAR.sub(substitute, value)


def raw_environment(svc: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment (mapping or KEY=VALUE list, plus env_file), uninterpolated."""
    env: dict[str, str | None] = {}
    env_files = svc.get("env_file") or []
    for env_file in [env_files] if isinstance(env_files, str | dict) else env_files:
        path = env_file["path"] if isinstance(env_file, dict) else env_file
        for line in (BASE_DIR / path).read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                env[key.strip()] = value.strip()
    declared = svc.get("environment") or {}
    if isinstance(declared, list):
        declared = dict(item.split("=", 1) if "=" in item else (item, None) for item in declared)
    for key, value in declared.items():
        env[str(key)] = None if value is None else str(value)
    return env


def environment(svc: dict[str, Any]) -> dict[str, str]:
    """The environment the container gets, interpolated as `docker compose` would."""
    return {
        key: interpolate(value) if value is not None else COMPOSE_SHELL.get(key, "")
        for key, value in raw_environment(svc).items()
    }


def command(svc: dict[str, Any]) -> list[str]:
    """A service's command as argv; without one, the image's CMD."""
    cmd = svc.get("command")
    if cmd is None:
        return final_stage().cmd()
    if isinstance(cmd, str):
        return shlex.split(cmd)
    return [str(token) for token in cmd]


def option_values(argv: list[str], *names: str) -> list[str]:
    """Values of an option given as `-Q x`, `-Qx`, `--queues x` or `--queues=x`."""
    values = []
    for i, token in enumerate(argv):
        for name in names:
            if token == name and i + 1 < len(argv):
                values.append(argv[i + 1])
            elif name.startswith("--") and token.startswith(f"{name}="):
                values.append(token.split("=", 1)[1])
            elif not name.startswith("--") and token.startswith(name) and token != name:
                values.append(token[len(name) :])
    return values


def executable(argv: list[str]) -> str:
    """The program an argv runs: `gunicorn ...`, `/opt/venv/bin/celery ...`, `python -m x`."""
    assert argv, "empty command"
    if PurePosixPath(argv[0]).name.startswith("python") and argv[1:2] == ["-m"]:
        return argv[2]
    return PurePosixPath(argv[0]).name


def celery_argv() -> dict[str, list[str]]:
    return {
        name: command(svc)
        for name, svc in services().items()
        if executable(command(svc)) == "celery"
    }


def runs_beat(argv: list[str]) -> bool:
    return "beat" in argv or "-B" in argv or "--beat" in argv


def duration_seconds(value: str | int | None, default: float) -> float:
    """A compose duration such as 150s, 2m30s or 1h."""
    if value is None:
        return default
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)", str(value))
    assert parts, f"cannot read duration {value!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


def container_ports(svc: dict[str, Any]) -> set[int]:
    ports: set[int] = set()
    for entry in svc.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
            continue
        target = str(entry).split("/")[0].rsplit(":", 1)[-1]
        first, _, last = target.partition("-")
        ports.update(range(int(first), int(last or first) + 1))
    return ports


# --- Dockerfile ----------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for args in self.args("ENV"):
            tokens = shlex.split(args)
            if tokens and "=" not in tokens[0]:  # legacy `ENV KEY value`
                result[tokens[0]] = " ".join(tokens[1:])
                continue
            for token in tokens:
                key, _, value = token.partition("=")
                result[key] = value
        return result

    def cmd(self) -> list[str]:
        cmds = self.args("CMD")
        assert cmds, f"Dockerfile stage {self.name or self.base} has no CMD"
        return exec_form(cmds[-1])

    def copies(self) -> Iterator[tuple[dict[str, str], list[str], str]]:
        """(flags, sources, destination resolved against WORKDIR) for each COPY/ADD."""
        workdir = PurePosixPath("/")
        for keyword, args in self.instructions:
            if keyword == "WORKDIR":
                workdir = workdir / args.strip()
            if keyword in ("COPY", "ADD"):
                flags: dict[str, str] = {}
                while args.startswith("--"):
                    flag, _, args = args.partition(" ")
                    key, _, value = flag[2:].partition("=")
                    flags[key] = value
                    args = args.strip()
                *sources, dest = exec_form(args)
                yield flags, sources, str(workdir / dest)

    def workdir(self) -> str:
        workdir = PurePosixPath("/")
        for args in self.args("WORKDIR"):
            workdir = workdir / args.strip()
        return str(workdir)


def exec_form(args: str) -> list[str]:
    args = args.strip()
    if args.startswith("["):
        parsed = json.loads(args)
        assert isinstance(parsed, list), f"bad JSON form: {args}"
        return [str(token) for token in parsed]
    return shlex.split(args)


@functools.cache
def dockerfile_stages() -> tuple[Stage, ...]:
    instructions: list[tuple[str, str]] = []
    current = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # comments and blank lines may also sit inside a continuation
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        keyword, _, args = (current + stripped).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        current = ""
    stages: list[Stage] = []
    for keyword, args in instructions:
        if keyword == "FROM":
            tokens = [token for token in args.split() if not token.startswith("--")]
            name = tokens[2] if len(tokens) >= 3 and tokens[1].lower() == "as" else None
            stages.append(Stage(base=tokens[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, args))
    return tuple(stages)


def final_stage() -> Stage:
    stages = dockerfile_stages()
    assert stages, "Dockerfile has no FROM"
    return stages[-1]


@functools.cache
def dockerignore_rules() -> tuple[tuple[bool, re.Pattern[str]], ...]:
    rules = []
    for line in DOCKERIGNORE.read_text().splitlines() if DOCKERIGNORE.exists() else []:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip().removeprefix("./").strip("/")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[" and "]" in pattern[i:]:
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        # A matching directory takes everything under it along.
        rules.append((negate, re.compile(regex + r"(?:/.*)?\Z")))
    return tuple(rules)


def dockerignored(relative: str) -> bool:
    ignored = False
    for negate, rule in dockerignore_rules():
        if rule.match(relative):
            ignored = not negate
    return ignored


def check_gunicorn(argv: list[str], where: str) -> int:
    """Asserts argv serves oncall's WSGI app on all interfaces; returns the bound port."""
    assert executable(argv) == "gunicorn", f"{where} does not run gunicorn: {argv}"
    # module:attribute, which a host:port (0.0.0.0:8000, localhost:8000) never looks like.
    apps = [token for token in argv[1:] if re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", token)]
    assert apps == ["oncall.wsgi:application"], (
        f"{where} serves {apps}, not oncall.wsgi:application"
    )
    module_name, attribute = apps[0].split(":")
    assert f"{module_name}.{attribute}" == settings.WSGI_APPLICATION, (
        f"{where} serves {apps[0]} but WSGI_APPLICATION is {settings.WSGI_APPLICATION}"
    )
    application = getattr(importlib.import_module(module_name), attribute, None)
    assert callable(application), f"{apps[0]} is not a callable WSGI application"
    binds = option_values(argv, "--bind", "-b")
    assert len(binds) == 1, f"{where} should --bind exactly one address, got {binds}"
    host, _, port = binds[0].rpartition(":")
    assert host in ("0.0.0.0", "[::]"), f"{where} binds {binds[0]}: unreachable from outside"
    assert_locked("gunicorn", f"{where} runs it")
    return int(port)


# --- docker-compose.yml tests --------------------------------------------------------------


def test_settings_env_names_finds_what_the_settings_read() -> None:
    names = settings_env_names()
    expected = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "EMAIL_URL", "ALLOWED_HOSTS"}
    assert expected | {"SECURE_SSL_REDIRECT", "CSRF_COOKIE_SECURE"} <= names, (
        f"settings_env_names() misses names the settings read; found {sorted(names)}"
    )
    assert "BASE_DIR" not in names, "settings_env_names() picked up a non-environment name"


def test_required_services_exist_and_app_services_build_from_the_dockerfile() -> None:
    missing = [name for name in REQUIRED_SERVICES if name not in services()]
    assert not missing, f"docker-compose.yml lacks services {missing}"
    for name, svc in services().items():
        if name not in APP_SERVICES and "build" not in svc:
            assert svc.get("image"), f"service {name} has neither build nor image"
            continue
        build = svc.get("build")
        assert build is not None, f"app service {name} does not build from the Dockerfile"
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        context_dir = (COMPOSE_FILE.parent / context).resolve()
        assert context_dir == BASE_DIR, f"{name} builds from {context_dir}, not the repository"
        assert (context_dir / dockerfile).resolve() == DOCKERFILE, (
            f"{name} builds from {dockerfile}, not the repository's Dockerfile"
        )


def test_app_services_set_only_variables_the_settings_read() -> None:
    known = settings_env_names() | DJANGO_ENV_NAMES
    for name in APP_SERVICES:
        unknown = sorted(set(raw_environment(service(name))) - known)
        assert not unknown, (
            f"{name} sets {unknown}, which no oncall/settings/*.py reads (typo or stale name?)"
        )


def test_secret_key_has_no_default_in_compose() -> None:
    for name in APP_SERVICES:
        value = raw_environment(service(name)).get("SECRET_KEY") or ""
        assert re.fullmatch(r"\$\{SECRET_KEY:?\?[^}]*\}", value), (
            f"{name}: SECRET_KEY should be ${{SECRET_KEY:?...}} so compose refuses to start "
            f"without one; got {value!r}"
        )


def test_settings_module_exists() -> None:
    for name in APP_SERVICES:
        module = environment(service(name)).get("DJANGO_SETTINGS_MODULE")
        assert module, f"{name} does not set DJANGO_SETTINGS_MODULE (the default is local)"
        assert importlib.util.find_spec(module) is not None, (
            f"{name}: DJANGO_SETTINGS_MODULE={module} is not an importable module"
        )
    image_module = final_stage().env().get("DJANGO_SETTINGS_MODULE")
    if image_module:
        assert importlib.util.find_spec(image_module) is not None, (
            f"Dockerfile ENV DJANGO_SETTINGS_MODULE={image_module} is not an importable module"
        )


def test_database_url_is_the_postgres_service() -> None:
    postgres = service("postgres")
    assert str(postgres.get("image", "")).startswith("postgres"), "postgres service is not postgres"
    pg_env = environment(postgres)
    user = pg_env.get("POSTGRES_USER", "postgres")
    for name in APP_SERVICES:
        url = environment(service(name)).get("DATABASE_URL")
        assert url, f"{name} has no DATABASE_URL, so it would use SQLite inside the container"
        config = environ.Env.db_url_config(url)
        assert config["ENGINE"] == "django.db.backends.postgresql", f"{name}: {url} is not postgres"
        assert config["HOST"] == "postgres", f"{name}: DATABASE_URL host is not postgres"
        assert int(config.get("PORT") or POSTGRES_PORT) == POSTGRES_PORT, f"{name}: wrong db port"
        assert config["USER"] == user, f"{name}: DATABASE_URL user is not POSTGRES_USER ({user})"
        assert config["PASSWORD"] == pg_env.get("POSTGRES_PASSWORD"), (
            f"{name}: DATABASE_URL password differs from POSTGRES_PASSWORD"
        )
        assert config["NAME"] == pg_env.get("POSTGRES_DB", user), (
            f"{name}: DATABASE_URL database differs from POSTGRES_DB"
        )
    assert_locked("psycopg", "DATABASE_URL is postgres")


def test_redis_url_is_the_redis_service() -> None:
    assert str(service("redis").get("image", "")).startswith("redis"), "redis service is not redis"
    for name in APP_SERVICES:
        env = environment(service(name))
        assert env.get("REDIS_URL"), f"{name} has no REDIS_URL: Celery would use the filesystem"
        for variable in ("REDIS_URL", "CELERY_BROKER_URL"):
            if variable not in env:
                continue
            url = urlsplit(env[variable])
            assert url.scheme in ("redis", "rediss"), f"{name}: {variable} is not a redis URL"
            assert url.hostname == "redis", f"{name}: {variable} is not the redis service"
            assert (url.port or REDIS_PORT) == REDIS_PORT, f"{name}: {variable} has a wrong port"
    assert_locked("redis", "REDIS_URL is the broker")


def test_email_url_is_mailpit_smtp() -> None:
    mailpit = service("mailpit")
    bind = environment(mailpit).get("MP_SMTP_BIND_ADDR", "")
    smtp_port = int(bind.rpartition(":")[2] or MAILPIT_DEFAULT_SMTP_PORT)
    for name in APP_SERVICES:
        url = environment(service(name)).get("EMAIL_URL")
        assert url, f"{name} has no EMAIL_URL, so mail would go to the console"
        config = environ.Env.email_url_config(url)
        assert config["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend", (
            f"{name}: EMAIL_URL {url} is not SMTP"
        )
        assert config["EMAIL_HOST"] == "mailpit", f"{name}: EMAIL_URL is not the mailpit service"
        assert config["EMAIL_PORT"] == smtp_port, (
            f"{name}: EMAIL_URL port {config['EMAIL_PORT']} is not mailpit's SMTP port {smtp_port}"
        )


def test_startup_order() -> None:
    migrate = command(service("migrate"))
    assert "manage.py" in migrate, f"the migrate service does not run manage.py: {migrate}"
    assert "migrate" in migrate[migrate.index("manage.py") :], f"migrate runs {migrate}"
    restart = str(service("migrate").get("restart", "no"))
    assert restart in ("no", "on-failure"), f"one-shot migrate must not restart ({restart})"
    for name, svc in services().items():
        depends_on = svc.get("depends_on") or {}
        if isinstance(depends_on, list):
            depends_on = {dependency: {"condition": "service_started"} for dependency in depends_on}
        for dependency, spec in depends_on.items():
            assert dependency in services(), f"{name} depends on missing service {dependency}"
            healthcheck = services()[dependency].get("healthcheck") or {}
            if spec.get("condition") == "service_healthy":
                assert healthcheck.get("test"), (
                    f"{name} waits for {dependency} to be healthy but it has no healthcheck"
                )
                assert not healthcheck.get("disable"), (
                    f"{name} waits for {dependency} to be healthy but its healthcheck is disabled"
                )
        if name not in APP_SERVICES:
            continue
        for dependency in ("postgres", "redis"):
            condition = depends_on.get(dependency, {}).get("condition")
            assert condition == "service_healthy", (
                f"{name} should wait for {dependency} with service_healthy, has {condition}"
            )
        if name != "migrate":
            condition = depends_on.get("migrate", {}).get("condition")
            assert condition == "service_completed_successfully", (
                f"{name} would start before migrations finish (depends_on migrate: {condition})"
            )


def test_web_runs_gunicorn_on_the_published_port() -> None:
    web = service("web")
    port = check_gunicorn(command(web), "the web service")
    assert port in container_ports(web), f"web binds {port} but publishes {web.get('ports')}"


def test_celery_services_use_the_oncall_app() -> None:
    argvs = celery_argv()
    assert "worker" in argvs.get("worker", []), "the worker service does not run a celery worker"
    assert "beat" in argvs.get("beat", []), "the beat service does not run celery beat"
    for name, argv in argvs.items():
        assert option_values(argv, "--app", "-A") == ["oncall"], f"{name} does not use -A oncall"
    app = find_app("oncall")
    assert isinstance(app, Celery), "-A oncall does not find a Celery app"
    assert app.main == "oncall", f"-A oncall finds the Celery app {app.main!r}, not oncall's"
    assert_locked("celery", "worker and beat run it")


def test_workers_consume_every_queue() -> None:
    declared = set(settings.CELERY_QUEUE_NAMES)
    consumed: set[str] = set()
    workers = {name: argv for name, argv in celery_argv().items() if "worker" in argv}
    assert workers, "no service runs a celery worker"
    for name, argv in workers.items():
        lists = option_values(argv, "--queues", "-Q")
        queues = [queue for value in lists for queue in value.split(",")] if lists else declared
        if lists:
            assert sorted(queues) == sorted(settings.CELERY_QUEUE_NAMES), (
                f"{name} -Q {','.join(queues)} differs from CELERY_QUEUE_NAMES "
                f"{settings.CELERY_QUEUE_NAMES}: a queue would go unconsumed or be misspelt"
            )
        exclusions = option_values(argv, "--exclude-queues", "-X")
        excluded = {queue for value in exclusions for queue in value.split(",")}
        consumed |= set(queues) - excluded
        grace = duration_seconds(
            services()[name].get("stop_grace_period"), DOCKER_DEFAULT_STOP_GRACE_SECONDS
        )
        assert grace > settings.CELERY_TASK_TIME_LIMIT, (
            f"{name} stop_grace_period {grace}s is shorter than CELERY_TASK_TIME_LIMIT "
            f"{settings.CELERY_TASK_TIME_LIMIT}s: warm shutdown would be killed mid-task"
        )
    assert consumed == declared, f"no worker consumes {sorted(declared - consumed)}"


def test_exactly_one_beat() -> None:
    beats = [name for name, argv in celery_argv().items() if runs_beat(argv)]
    assert beats == ["beat"], f"beat must run in exactly one service (beat), runs in {beats}"
    beat = service("beat")
    replicas = int((beat.get("deploy") or {}).get("replicas", 1))
    assert replicas == 1, f"beat has deploy.replicas {replicas}: tasks would be sent twice"
    assert int(beat.get("scale", 1)) == 1, "beat has scale > 1: tasks would be sent twice"
    schedule = option_values(command(beat), "--schedule", "-s")
    var_dir = environment(beat).get("VAR_DIR") or final_stage().env().get("VAR_DIR")
    assert schedule, "beat has no --schedule: it would write to the read-only /app"
    assert var_dir, "neither the beat service nor the image sets VAR_DIR"
    assert PurePosixPath(schedule[0]).parent == PurePosixPath(var_dir), (
        f"beat --schedule {schedule[0]} is not in VAR_DIR {var_dir}, the app user's writable dir"
    )


# --- Dockerfile tests ----------------------------------------------------------------------


def test_dockerfile_is_multi_stage_and_runs_as_a_created_non_root_user() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, f"Dockerfile has {len(stages)} FROM stage(s), expected at least 2"
    final = final_stage()
    users = final.args("USER")
    assert users, "the final stage has no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"the final stage runs as {users[-1]}"
    runs = " ".join(final.args("RUN"))
    if not user.isdigit():
        assert re.search(rf"\b(?:useradd|adduser)\b[^&;]*\b{re.escape(user)}\b", runs), (
            f"USER {user} is never created in the final stage"
        )
    var_dir = final.env().get("VAR_DIR")
    assert var_dir, "the final stage does not set VAR_DIR"
    assert re.search(rf"chown\b[^&;]*{re.escape(user)}[^&;]*{re.escape(var_dir)}", runs), (
        f"VAR_DIR {var_dir} is not chowned to {user}; collectstatic and beat need to write it"
    )
    assert final.workdir() != "/", "the final stage has no WORKDIR"


def test_dockerfile_installs_the_hashed_lock_file_into_the_image_path() -> None:
    installs = [
        (stage, exec_form(args))
        for stage in dockerfile_stages()
        for args in stage.args("RUN")
        if "--require-hashes" in args
    ]
    assert installs, "no RUN installs with --require-hashes"
    stage, argv = installs[0]
    requirement_files = option_values(argv, "--requirement", "-r")
    assert any(path.endswith("requirements/prod.txt") for path in requirement_files), (
        f"the --require-hashes install does not read requirements/prod.txt: {argv}"
    )
    unhashed = [entry for entry in prod_requirements().values() if "--hash=sha256:" not in entry]
    assert not unhashed, f"requirements/prod.txt entries without hashes: {unhashed}"
    unpinned = [entry for entry in prod_requirements().values() if "==" not in entry]
    assert not unpinned, f"requirements/prod.txt entries not pinned with ==: {unpinned}"
    venv = re.search(r"-m venv (\S+)", " ".join(stage.args("RUN")))
    assert venv, f"stage {stage.name} installs without creating a virtualenv"
    final = final_stage()
    copied = [dest for flags, _, dest in final.copies() if flags.get("from") == stage.name]
    assert venv[1] in copied, f"the final stage does not COPY --from={stage.name} {venv[1]}"
    path = final.env().get("PATH", "").split(":")
    assert f"{venv[1]}/bin" in path, f"{venv[1]}/bin is not on the final stage's PATH"


def test_dockerfile_copies_files_that_exist_and_are_not_dockerignored() -> None:
    for stage in dockerfile_stages():
        for flags, sources, _ in stage.copies():
            if "from" in flags:
                source_stage = flags["from"]
                names = {s.name for s in dockerfile_stages()}
                assert source_stage in names or source_stage.isdigit() or "/" in source_stage, (
                    f"COPY --from={source_stage} names no stage of the Dockerfile"
                )
                continue
            for source in sources:
                relative = source.removeprefix("./").strip("/")
                if relative in ("", "."):
                    continue
                assert list(BASE_DIR.glob(relative)), f"COPY {source}: no such file in the repo"
                assert not dockerignored(relative), f"COPY {source}: excluded by .dockerignore"
    for relative in (".venv", "node_modules", "var", ".git", ".env", ".pytest_cache"):
        assert dockerignored(relative), f".dockerignore does not exclude {relative}"
    for relative in ("manage.py", "oncall/settings/production.py", "requirements/prod.txt"):
        assert not dockerignored(relative), f".dockerignore excludes {relative}, which is needed"


def test_dockerfile_provides_every_staticfiles_dir_and_collects_static() -> None:
    final = final_stage()
    copies = list(final.copies())
    app_roots = [dest for flags, sources, dest in copies if "from" not in flags and "." in sources]
    assert app_roots, "the final stage never copies the source (COPY . <dir>)"
    app_root = PurePosixPath(app_roots[-1])
    assert PurePosixPath(final.workdir()) == app_root, (
        f"WORKDIR {final.workdir()} is not where the source is ({app_root}): manage.py not found"
    )
    from_stages = {PurePosixPath(dest) for flags, _, dest in copies if "from" in flags}
    for entry in settings.STATICFILES_DIRS:
        directory = Path(str(entry[1]) if isinstance(entry, tuple) else str(entry))
        relative = directory.relative_to(BASE_DIR).as_posix()
        in_context = directory.exists() and not dockerignored(relative)
        assert in_context or app_root / relative in from_stages, (
            f"STATICFILES_DIRS entry {relative} is neither in the build context nor copied into "
            f"{app_root / relative} from a build stage"
        )
    collect = [argv for argv in map(shlex.split, final.args("RUN")) if "collectstatic" in argv]
    assert collect, "the image does not run manage.py collectstatic"
    assert "--noinput" in collect[0], "collectstatic without --noinput would wait for input"
    for keyword in ("ENV", "ARG"):
        for args in final.args(keyword):
            assert not re.match(r"SECRET_KEY\b", args), f"{keyword} SECRET_KEY bakes a key in"


def test_dockerfile_default_command_serves_the_exposed_port() -> None:
    port = check_gunicorn(final_stage().cmd(), "the Dockerfile CMD")
    exposed = {int(p.split("/")[0]) for args in final_stage().args("EXPOSE") for p in args.split()}
    assert port in exposed, f"CMD binds {port} but the Dockerfile EXPOSEs {sorted(exposed)}"


# --- production settings -------------------------------------------------------------------


def production_env(**overrides: str) -> dict[str, str]:
    """This process's environment without anything the settings read, plus overrides."""
    dropped = settings_env_names() | DJANGO_ENV_NAMES
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env["DJANGO_SETTINGS_MODULE"] = "oncall.settings.production"
    env.update(overrides)
    return env


@pytest.mark.parametrize("secret_key", [None, ""], ids=["unset", "empty"])
def test_production_settings_refuse_to_start_without_secret_key(secret_key: str | None) -> None:
    if secret_key is None and "SECRET_KEY" in dotenv_names():
        pytest.skip(".env beside manage.py sets SECRET_KEY")
    env = production_env() if secret_key is None else production_env(SECRET_KEY=secret_key)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0, "production settings loaded without a SECRET_KEY"
    refusal = f"production settings failed, but not by refusing the SECRET_KEY:\n{result.stderr}"
    assert "ImproperlyConfigured" in result.stderr, refusal
    assert "SECRET_KEY" in result.stderr, refusal


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    env = production_env(
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="oncall.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        "manage.py check --deploy fails with the production defaults (a .env beside manage.py "
        f"is read too):\n{result.stdout}{result.stderr}"
    )

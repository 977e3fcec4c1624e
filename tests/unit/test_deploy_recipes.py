"""The deployment recipes, checked statically (no Docker engine or Nomad here): the Compose file
and the CI workflow against their JSON schemas as vendored by check-jsonschema, the Dockerfile
and the Nomad job parsed and held to the same points as uwsgi.ini (port, health, user, release
step), app.json against what Heroku and config.py need, and the pre-commit hooks run for real."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import hcl2
import yaml
from hcl2.utils import SerializationOptions

from config import load_config
from tests.recipes import dockerfile, final_stage, healthcheck_command, instructions
from tests.servers import REPO_ROOT

SECRET_SETTINGS = ("MONGO_URI", "REDIS_URL", "SECRET_KEY", "JWT_SECRET_KEY", "SMTP_URL")
RELEASE_COMMAND = ["flask", "--app", "run", "db", "init"]


def read(path: str) -> str:
    return (REPO_ROOT / path).read_text()


# --- uwsgi.ini: what every recipe runs --------------------------------------------------------
@cache
def uwsgi_settings() -> list[tuple[str, str]]:
    """uwsgi.ini's `key = value` lines in order (keys repeat, so no configparser)."""
    pairs = []
    for line in read("uwsgi.ini").splitlines():
        line = line.strip()
        if line and not line.startswith((";", "#", "[")):
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


def uwsgi_value(key: str) -> str:
    values = [value for name, value in uwsgi_settings() if name == key]
    assert len(values) == 1, f"{key} appears {len(values)} times in uwsgi.ini"
    return values[0]


def test_uwsgi_listens_on_port_from_the_environment():
    settings = uwsgi_settings()
    block = settings.index(("if-env", "PORT"))
    assert settings[block + 1] == ("http-socket", ":%(_)")
    assert uwsgi_value("module") == "run:app"
    for flag in ("master", "lazy-apps", "need-app", "die-on-term"):
        assert uwsgi_value(flag) == "true"


def test_uwsgi_logs_to_the_standard_streams_and_leaves_request_lines_to_the_app():
    keys = {key for key, _ in uwsgi_settings()}
    assert not keys & {"logto", "logto2", "daemonize", "logger", "req-logger"}
    assert uwsgi_value("disable-logging") == "true"


# --- Dockerfile ---------------------------------------------------------------------------------
def exposed_port() -> int:
    (exposed,) = instructions(final_stage(), "EXPOSE")
    return int(exposed)


def test_dockerfile_builds_wheels_then_a_slim_runtime():
    froms = instructions(dockerfile().structure, "FROM")
    assert len(froms) == 2
    python = read(".python-version").strip()
    assert all(re.match(r"python:\$\{PYTHON_VERSION\}-slim", f) for f in froms)
    assert f"ARG PYTHON_VERSION={python}" in read("Dockerfile")
    stage = final_stage()
    assert any("--from=build /wheels" in value for value in instructions(stage, "COPY"))
    runs = " ".join(instructions(stage, "RUN"))
    assert "--no-index" in runs and "build-essential" not in runs


def test_dockerfile_runs_as_a_non_root_user():
    stage = final_stage()
    users = instructions(stage, "USER")
    assert users and users[-1] not in ("root", "0")
    assert any(re.search(rf"useradd .*\b{users[-1]}$", run) for run in instructions(stage, "RUN"))
    order = [item["instruction"] for item in stage]
    assert order.index("USER") < order.index("ENTRYPOINT")


def test_dockerfile_port_and_entrypoint_match_uwsgi_ini():
    assert dockerfile().envs["PORT"] == str(exposed_port())
    (entrypoint,) = instructions(final_stage(), "ENTRYPOINT")
    # Exec form: uwsgi is PID 1 and receives the runtime's SIGTERM itself (die-on-term).
    assert json.loads(entrypoint) == ["uwsgi", "--ini", "uwsgi.ini"]
    assert dockerfile().envs["APP_ENV"] == "production"


def test_dockerfile_healthcheck_probes_health_on_the_port():
    command = healthcheck_command()
    assert command[0] == "python"
    assert "/health" in command[-1] and "os.environ.get('PORT'" in command[-1]


def test_dockerignore_keeps_secrets_and_tooling_out_and_the_app_in():
    patterns = [
        line for line in read(".dockerignore").splitlines() if line and not line.startswith("#")
    ]
    for excluded in (".git", ".venv", ".env", "tests", "bench"):
        assert excluded in patterns
    needed = ["run.py", "app.py", "uwsgi.ini", "requirements.txt", "core", "static", "templates"]
    needed += tomllib.loads(read("pyproject.toml"))["tool"]["importlinter"]["root_packages"]
    assert not set(needed) & set(patterns)


# --- docker-compose.yml -------------------------------------------------------------------------
@cache
def compose() -> dict:
    return yaml.safe_load(read("docker-compose.yml"))


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with one of the schemas it vendors (nothing is fetched)."""
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("check-jsonschema")),
            "--builtin-schema",
            schema,
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_file_follows_the_compose_specification():
    result = check_jsonschema("vendor.compose-spec", REPO_ROOT / "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_catches_a_broken_file(tmp_path):
    broken = copy.deepcopy(compose())
    broken["services"]["api"]["depends_on"]["mongo"]["condition"] = "whenever"
    broken["services"]["redis"]["helthcheck"] = broken["services"]["redis"].pop("healthcheck")
    (tmp_path / "compose.yml").write_text(yaml.safe_dump(broken))
    result = check_jsonschema("vendor.compose-spec", tmp_path / "compose.yml")
    assert result.returncode == 1
    assert (
        "'whenever' is not one of" in result.stdout
        and "'helthcheck' was unexpected" in result.stdout
    )


def test_compose_runs_mongodb_7_and_redis_7_on_named_volumes_with_healthchecks():
    services, volumes = compose()["services"], compose()["volumes"]
    assert services["mongo"]["image"] == "mongo:7"
    assert services["redis"]["image"] == "redis:7"
    assert "--appendonly" in services["redis"]["command"]
    for name in ("mongo", "redis"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
        (mount,) = services[name]["volumes"]
        assert mount.split(":")[0] in volumes


def test_compose_app_waits_for_both_and_for_the_release_step():
    services = compose()["services"]
    release, api = services["release"], services["api"]
    assert release["entrypoint"] == RELEASE_COMMAND and release["restart"] == "no"
    healthy = {"mongo": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}
    assert release["depends_on"] == healthy
    assert api["depends_on"] == {
        **healthy,
        "release": {"condition": "service_completed_successfully"},
    }
    assert release["build"] == api["build"] == "." and release["image"] == api["image"]


def test_compose_app_port_and_secrets():
    api = compose()["services"]["api"]
    environment = api["environment"]
    assert int(environment["PORT"]) == exposed_port()
    assert api["ports"][0].endswith(f":{exposed_port()}")
    assert environment["APP_ENV"] == "production"
    for name in ("SECRET_KEY", "JWT_SECRET_KEY", "SMTP_URL"):
        # Required from the environment (or .env), never written here.
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", environment[name])
    assert environment["PUBLIC_URL"].startswith("${PUBLIC_URL:-http")


# --- Nomad --------------------------------------------------------------------------------------
@cache
def nomad() -> dict:
    options = SerializationOptions(
        with_comments=False,
        explicit_blocks=False,
        preserve_heredocs=False,
        strip_string_quotes=True,
    )
    with (REPO_ROOT / "deploy/nomad/api.nomad.hcl").open() as file:
        return hcl2.load(file, serialization_options=options)


def nomad_job() -> dict:
    (job,) = nomad()["job"]
    return job["flask-api"]


def nomad_group() -> dict:
    (group,) = nomad_job()["group"]
    return group["api"]


def nomad_tasks() -> dict[str, dict]:
    return {name: body for task in nomad_group()["task"] for name, body in task.items()}


def resolve(value: str) -> str:
    """`${local.x}` / `${var.x}` as the job's locals and variable defaults give them."""
    match = re.fullmatch(r"\$\{(local|var)\.(\w+)\}", value)
    if not match:
        return value
    kind, name = match.groups()
    if kind == "local":
        (locals_,) = nomad()["locals"]
        return locals_[name]
    variables = {n: body for v in nomad()["variable"] for n, body in v.items()}
    return variables[name]["default"]


def test_nomad_rolls_deployments_one_allocation_at_a_time():
    (update,) = nomad_job()["update"]
    assert update["max_parallel"] == 1
    assert update["health_check"] == "checks" and update["auto_revert"] is True


def test_nomad_service_checks_readiness_on_the_container_port():
    (network,) = nomad_group()["network"]
    (port,) = network["port"]
    assert port["http"]["to"] == exposed_port()
    (service,) = nomad_group()["service"]
    (check,) = service["check"]
    assert (service["port"], check["type"], check["path"]) == ("http", "http", "/ready")
    (env,) = nomad_tasks()["api"]["env"]
    assert int(env["PORT"]) == exposed_port()


def test_nomad_runs_db_init_before_the_web_task():
    tasks = nomad_tasks()
    (lifecycle,) = tasks["db-init"]["lifecycle"]
    assert lifecycle == {"hook": "prestart", "sidecar": False}
    (config,) = tasks["db-init"]["config"]
    assert config["entrypoint"] == RELEASE_COMMAND
    (web_config,) = tasks["api"]["config"]
    assert resolve(config["image"]) == resolve(web_config["image"])
    assert "entrypoint" not in web_config  # the image's: uwsgi --ini uwsgi.ini


def test_nomad_secrets_come_from_nomad_variables_only():
    source = read("deploy/nomad/api.nomad.hcl")
    for name, task in nomad_tasks().items():
        (template,) = task["template"]
        data = resolve(template["data"])
        assert template["env"] is True and template["destination"].startswith("secrets/")
        assert "nomadVar" in data, name
        assert "APP_ENV=production" in data.splitlines()
        assert "PUBLIC_URL=${var.public_url}" in data.splitlines()
        for setting in SECRET_SETTINGS:
            assert f"{setting}={{{{ .{setting} }}}}" in data
            assert setting not in task.get("env", [{}])[0]
    assert not re.search(r"(mongodb(\+srv)?|rediss?)://[^.'\s]", source.split("job ", 1)[1])


# --- Heroku -------------------------------------------------------------------------------------
@cache
def app_json() -> dict:
    return json.loads(read("app.json"))


def test_app_json_describes_every_setting_and_generates_the_secrets():
    env = app_json()["env"]
    assert all(entry.get("description") for entry in env.values())
    assert env["SECRET_KEY"]["generator"] == env["JWT_SECRET_KEY"]["generator"] == "secret"
    assert "value" not in env["SECRET_KEY"] and "value" not in env["JWT_SECRET_KEY"]
    assert env["APP_ENV"]["value"] == "production"
    assert env["TRUSTED_PROXY_HOPS"]["value"] == "1"
    assert env["REDIS_TLS_VERIFY"]["value"] == "false"
    assert (
        env["MONGO_URI"]["required"] is True and "mongodb+srv://" in env["MONGO_URI"]["description"]
    )
    # Production refuses to start without them: mail could not reach anyone.
    assert env["SMTP_URL"]["required"] is True and env["PUBLIC_URL"]["required"] is True


def test_app_json_buildpack_redis_addon_and_formation():
    assert app_json()["buildpacks"] == [{"url": "heroku/python"}]
    (addon,) = app_json()["addons"]
    assert addon["plan"].startswith("heroku-redis:") and addon["as"] == "REDIS"  # sets REDIS_URL
    assert app_json()["formation"]["web"]["quantity"] >= 1
    procfile = dict(line.split(": ", 1) for line in read("Procfile").splitlines())
    assert procfile == {"release": " ".join(RELEASE_COMMAND), "web": "uwsgi uwsgi.ini"}


def test_app_json_settings_pass_the_production_checks():
    """What a one-click deploy gets (values, generated secrets, the add-on's URL, the user's
    MongoDB URI) is accepted by config.py, TLS verification off for the add-on's rediss://."""
    env = app_json()["env"]
    settings = {name: entry["value"] for name, entry in env.items() if "value" in entry}
    settings.update({name: "g" * 64 for name, entry in env.items() if "generator" in entry})
    settings["MONGO_URI"] = (
        "mongodb+srv://u:p@cluster0.example.mongodb.net/flask_api?retryWrites=true&w=majority"
    )
    settings["REDIS_URL"] = "rediss://:p@ec2-1-2-3-4.compute-1.amazonaws.com:6380"
    settings["SMTP_URL"] = "smtp+starttls://apikey:p@smtp.example.com:587"
    settings["PUBLIC_URL"] = "https://my-flask-api.herokuapp.com"
    config = load_config(settings)
    assert config["APP_ENV"] == "production" and config["REDIS_TLS_VERIFY"] is False
    assert config["MONGO_DB_NAME"] == "flask_api" and config["LOG_FORMAT"] == "json"
    assert config["MAIL_DELIVERY"] == "smtp" and config["MAIL_USE_TLS"] is True


# --- CI and repo habits -------------------------------------------------------------------------
def test_ci_workflow_follows_the_schema_and_runs_what_ci_runs():
    path = REPO_ROOT / ".github/workflows/ci.yml"
    result = check_jsonschema("vendor.github-workflows", path)
    assert result.returncode == 0, result.stdout + result.stderr
    workflow = yaml.safe_load(path.read_text())
    (job,) = workflow["jobs"].values()
    assert job["env"]["CI"] == "true"
    assert job["steps"][-1]["run"].endswith("bash .ci/run")
    assert "make test" in read(".ci/run")


def pre_commit(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """pre-commit from this venv; the hooks run the venv's tools (`.venv/bin/...`)."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("pre-commit")), *args],
        cwd=cwd,
        env={**os.environ, "PRE_COMMIT_HOME": str(home)},  # its cache, away from the user's
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_pre_commit_config_is_valid_and_local_only(tmp_path):
    result = pre_commit("validate-config", ".pre-commit-config.yaml", cwd=REPO_ROOT, home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    (repo,) = yaml.safe_load(read(".pre-commit-config.yaml"))["repos"]
    assert repo["repo"] == "local"
    hooks = {hook["id"]: hook for hook in repo["hooks"]}
    assert set(hooks) >= {
        "ruff",
        "ruff-format",
        "import-linter",
        "trailing-whitespace",
        "end-of-file-fixer",
        "detect-secrets",
    }
    assert all(hook["language"] == "system" for hook in hooks.values())
    assert all(hook["entry"].startswith(".venv/bin/") for hook in hooks.values())
    assert "--baseline .secrets.baseline" in hooks["detect-secrets"]["entry"]


def copy_of_the_tree(destination: Path) -> Path:
    """The tree as git sees it (tracked and new files), copied into a fresh git repository, so
    hooks that fix files can never rewrite the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    for command in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *command], cwd=destination, check=True, capture_output=True)
    # The hooks' tools, where `make` puts them (git ignores the link, as it does .venv).
    (destination / ".venv").symlink_to(Path(sys.executable).parent.parent)
    return destination


def test_pre_commit_passes_on_every_file(tmp_path):
    """A hook that would change a file, or find a secret, fails here."""
    tree = copy_of_the_tree(tmp_path / "tree")
    result = pre_commit("run", "--all-files", "--color", "never", cwd=tree, home=tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_refuses_a_new_secret(tmp_path):
    tree = copy_of_the_tree(tmp_path / "tree")
    (tree / "leak.py").write_text('AWS_ACCESS_KEY_ID = "AKIA' + "Q" * 16 + '"\n')
    subprocess.run(["git", "add", "leak.py"], cwd=tree, check=True)
    result = pre_commit(
        "run", "detect-secrets", "--files", "leak.py", cwd=tree, home=tmp_path / "home"
    )
    assert result.returncode == 1
    assert "AWS Access Key" in result.stdout and "leak.py" in result.stdout


# --- Version, changelog, licence -----------------------------------------------------------------
def test_one_version_everywhere(client):
    from core.version import __version__

    assert tomllib.loads(read("pyproject.toml"))["project"]["version"] == __version__
    newest = re.search(r"^## \[(\d+\.\d+\.\d+)\]", read("CHANGELOG.md"), re.M)
    assert newest and newest.group(1) == __version__
    assert client.get("/health").get_json() == {"status": "ok", "version": __version__}
    assert client.get("/api/v1/openapi.json").get_json()["info"]["version"] == __version__


def test_licence_is_mit():
    assert read("LICENSE").startswith("MIT License")


def test_readme_deploys_and_operates_with_every_recipe():
    readme = read("README.md")
    assert re.search(r"^## Deploy$", readme, re.M) and re.search(r"^## Operate$", readme, re.M)
    for recipe in ("app.json", "Dockerfile", "docker-compose.yml", "deploy/nomad/api.nomad.hcl"):
        assert recipe in readme

"""docker-compose.yml and the Dockerfile, checked without a Docker engine (issue #3 part 7).

Two kinds of check:
- the file itself: the services the federation needs, healthy start order, ports, volumes, and that the
  addresses, database URLs and council codes repeated across services agree (`compose_problems`);
- a dry run of what the containers would do: each service's command and the docker/ scripts run on this
  machine, every volume a folder in a temporary directory, every PostgreSQL a SQLite file, and every
  `whoelse` call answered in this process by the real command-line parser and handlers. The long-running
  commands stop short of serving: `node serve` loads its config from the service's environment and builds
  the node runtime (database, keys, certificate checks); `directory serve` builds its server on a free port.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import socketserver
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from whoelse.federation.cli import build_parser, main
from whoelse.node.config import NodeConfig, load_config
from whoelse.node.keystore import KEYS_ENV

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
IMAGE_ROOT = "/opt/whoelse"  # where the Dockerfile copies the repository
COUNCILS = {"leeds": ("E08000035", "Leeds"), "bradford": ("E08000032", "Bradford"),
            "wakefield": ("E08000036", "Wakefield")}  # fmt: skip
DIRECTORY = "directory"
INIT = "init"
DRY_RUN_ENV = {"WHOELSE_SYNTH_CHILDREN": "30"}  # as a user would set it in .env; keeps the run short


# ---- reading the compose file ----------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable substitution: ${VAR:-default}, ${VAR}, $VAR and $$ for a literal $."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(3)
        if name in env:
            return env[name]
        if match.group(2) is None:
            raise AssertionError(f"${{{name}}} has no default, so `docker compose up` needs it set")
        return match.group(2)

    return _PLACEHOLDER.sub(substitute, value)


def load_compose(env: Mapping[str, str] = DRY_RUN_ENV) -> dict[str, Any]:
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(raw, dict), "docker-compose.yml is not a mapping"
    compose: dict[str, Any] = interpolate(raw, env)
    return compose


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def mounts(service: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(volume, target) for each volume in short syntax `name:/target[:mode]`."""
    out = []
    for spec in service.get("volumes") or []:
        source, target, *_ = str(spec).split(":")
        out.append((source, target))
    return out


def command(service: Mapping[str, Any]) -> list[str]:
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if isinstance(value, str):
            service = {**service, key: shlex.split(value)}
    return [*(service.get("entrypoint") or []), *(service.get("command") or [])]


def host_port(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


def option(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@dataclass(frozen=True)
class CouncilLine:
    """One line of the init job's WHOELSE_COUNCILS: SERVICE CODE FEDERATION_ENDPOINT DATABASE_URL NAME."""

    service: str
    code: str
    endpoint: str
    database: str
    name: str


def council_lines(compose: Mapping[str, Any]) -> list[CouncilLine]:
    text = environment(compose["services"][INIT])["WHOELSE_COUNCILS"]
    return [CouncilLine(*line.split(maxsplit=4)) for line in text.splitlines() if line.strip()]


def compose_problems(compose: Mapping[str, Any]) -> list[str]:
    """Everything that would stop the federation in docker-compose.yml from starting or finding itself."""
    problems: list[str] = []
    services: dict[str, Any] = compose.get("services", {})
    declared = set(compose.get("volumes") or {})
    for name in [DIRECTORY, INIT, *COUNCILS, *(f"{c}-db" for c in COUNCILS)]:
        if name not in services:
            problems.append(f"service {name}: missing")
    if problems:
        return problems

    for name, service in services.items():
        for volume, target in mounts(service):
            if volume.startswith((".", "/")):
                problems.append(f"service {name}: {volume} is a bind mount; use a named volume")
            elif volume not in declared:
                problems.append(f"service {name}: volume {volume} (at {target}) is not declared")
        for dependency, rule in (service.get("depends_on") or {}).items():
            if dependency not in services:
                problems.append(f"service {name}: depends on unknown service {dependency}")
            wanted = "service_completed_successfully" if dependency == INIT else "service_healthy"
            if rule.get("condition") != wanted:
                problems.append(f"service {name}: depends on {dependency} without condition {wanted}")
            elif wanted == "service_healthy" and "healthcheck" not in services[dependency]:
                problems.append(
                    f"service {name}: waits for {dependency} to be healthy, but it has no healthcheck"
                )

    published: dict[int, str] = {}
    for name, service in services.items():
        for spec in service.get("ports") or []:
            outside = str(spec).split(":")[-2]
            if int(outside) in published:
                problems.append(f"host port {outside}: published by {published[int(outside)]} and {name}")
            published[int(outside)] = name

    for name, service in services.items():
        for key, value in environment(service).items():
            # A password in the environment is visible to anyone who can inspect the container.
            if key == "POSTGRES_PASSWORD" or re.search(r"://[^/@\s:]+:[^/@\s]+@", value):
                problems.append(f"service {name}: {key} holds a database password; use a secret file")

    directory_argv = command(services[DIRECTORY])
    directory_port = host_port(option(directory_argv, "--listen"))[1]
    # The match-token rate limit is what makes every guess at an identity a logged, limited call (P4).
    if "--rate-per-minute" in directory_argv:
        problems.append(f"service {DIRECTORY}: sets --rate-per-minute; keep the directory's default limit")
    lines = {line.service: line for line in council_lines(compose)}
    init_waits_for = set(services[INIT].get("depends_on") or {})
    for council, (code, _) in COUNCILS.items():
        service, env = services[council], environment(services[council])
        database_service = services[f"{council}-db"]
        if database_service.get("image") != "postgres:16":
            problems.append(
                f"service {council}-db: image is {database_service.get('image')}, not postgres:16"
            )
        if "pg_isready" not in json.dumps(database_service.get("healthcheck", {}).get("test")):
            problems.append(f"service {council}-db: healthcheck does not run pg_isready")
        if not any(target == "/var/lib/postgresql/data" for _, target in mounts(database_service)):
            problems.append(f"service {council}-db: its data is not on a volume")
        pg = environment(database_service)
        url = urlsplit(env.get("WHOELSE_NODE_DATABASE", ""))
        password_file = f"password_file={pg.get('POSTGRES_PASSWORD_FILE')}"
        expected = ("postgresql+psycopg", f"{council}-db", 5432, pg.get("POSTGRES_USER"),
                    "/" + pg.get("POSTGRES_DB", ""), password_file)  # fmt: skip
        actual = (url.scheme, url.hostname, url.port, url.username, url.path, url.query)
        if actual != expected:
            problems.append(
                f"service {council}: WHOELSE_NODE_DATABASE does not point at its own {council}-db"
            )
        secret = f"{council}-db-password"
        if pg.get("POSTGRES_PASSWORD_FILE") != f"/run/secrets/{secret}":
            problems.append(f"service {council}-db: its password is not read from the secret {secret}")
        for name in (council, f"{council}-db", INIT):
            if secret not in (services[name].get("secrets") or []):
                problems.append(f"service {name}: does not mount the secret {secret}")
        declared_file = ((compose.get("secrets") or {}).get(secret) or {}).get("file", "")
        if not (REPO / declared_file).is_file():
            problems.append(f"secret {secret}: no file {declared_file!r} in the repository")
        if f"{council}-db" not in (service.get("depends_on") or {}):
            problems.append(f"service {council}: does not wait for {council}-db")
        if f"{council}-db" not in init_waits_for:
            problems.append(f"service {INIT}: does not wait for {council}-db")
        if env.get("WHOELSE_NODE_DIRECTORY") != f"{DIRECTORY}:{directory_port}":
            problems.append(
                f"service {council}: WHOELSE_NODE_DIRECTORY is {env.get('WHOELSE_NODE_DIRECTORY')}, "
                f"but the directory listens on port {directory_port}"
            )
        federation = env.get("WHOELSE_NODE_LISTEN_FEDERATION", ":0")
        # A node joins the directory advertising its listen address, so it must be reachable as written.
        if host_port(federation)[0] != council or service.get("hostname") != council:
            problems.append(
                f"service {council}: must listen for the federation as {council}:PORT, hostname {council}"
            )
        practitioner_port = host_port(env.get("WHOELSE_NODE_LISTEN_PRACTITIONER", ":0"))[1]
        if practitioner_port == host_port(federation)[1]:
            problems.append(
                f"service {council}: federation and practitioner ports are both {practitioner_port}"
            )
        inside_ports = {int(str(spec).split(":")[-1]) for spec in service.get("ports") or []}
        # The practitioner port, and the portal's if it serves one; never the federation port.
        portal_port = {int(env["WHOELSE_PORTAL_PORT"])} if env.get("WHOELSE_PORTAL_PORT") else set()
        if inside_ports != {practitioner_port} | portal_port:
            problems.append(
                f"service {council}: publishes {inside_ports}, not its practitioner port and its portal's"
            )
        if Path(env.get("WHOELSE_NODE_TLS_CERT", "")).stem != code:
            problems.append(f"service {council}: certificate is not {code}.crt")
        line = lines.get(council)
        if line is None:
            problems.append(f"service {INIT}: WHOELSE_COUNCILS has no line for {council}")
        elif (line.code, line.endpoint, line.database) != (
            code,
            federation,
            env.get("WHOELSE_NODE_DATABASE"),
        ):
            problems.append(f"service {INIT}: WHOELSE_COUNCILS line for {council} disagrees with the service")
    return problems


# ---- the file as written ---------------------------------------------------------------------------------


def test_compose_describes_a_directory_three_councils_and_their_databases() -> None:
    compose = load_compose()
    assert compose_problems(compose) == []
    lines = council_lines(compose)
    assert {(line.service, line.code, line.name) for line in lines} == {
        (service, code, name) for service, (code, name) in COUNCILS.items()
    }


def test_compose_runs_with_no_variables_set() -> None:
    assert compose_problems(load_compose({})) == []


def test_compose_says_it_needs_compose_v2() -> None:
    # Compose v1 (`docker-compose`) rejects the top-level `name:` with a confusing error.
    header = COMPOSE_FILE.read_text(encoding="utf-8").split("\nname:", 1)[0]
    assert "Needs Docker Compose v2" in header
    assert "name" in load_compose()


Edit = Callable[[dict[str, Any]], object]


def _set_env(service: str, key: str, value: str) -> Edit:
    return lambda c: c["services"][service]["environment"].update({key: value})


def _share_leeds_database(c: dict[str, Any]) -> None:
    leeds = c["services"]["leeds"]["environment"]["WHOELSE_NODE_DATABASE"]
    c["services"]["bradford"]["environment"]["WHOELSE_NODE_DATABASE"] = leeds


BROKEN = {
    "wrong directory port": (
        _set_env("leeds", "WHOELSE_NODE_DIRECTORY", "directory:7001"),
        "but the directory listens on port 7000",
    ),
    "shared database": (_share_leeds_database, "does not point at its own bradford-db"),
    "port clash": (
        lambda c: c["services"]["wakefield"].update(ports=["127.0.0.1:7201:7201"]),
        "host port 7201",
    ),
    "undeclared volume": (
        lambda c: c["volumes"].pop("leeds-node"),
        "volume leeds-node (at /node) is not declared",
    ),
    "unreachable advertised endpoint": (
        _set_env("leeds", "WHOELSE_NODE_LISTEN_FEDERATION", "0.0.0.0:7101"),
        "must listen for the federation as leeds:PORT",
    ),
    "starts before init ends": (
        lambda c: c["services"]["leeds"]["depends_on"]["init"].update(condition="service_started"),
        "depends on init without condition service_completed_successfully",
    ),
    "wrong postgres": (lambda c: c["services"]["leeds-db"].update(image="postgres:15"), "not postgres:16"),
    "missing database": (lambda c: c["services"].pop("wakefield-db"), "service wakefield-db: missing"),
    "password in a URL": (
        _set_env("leeds", "WHOELSE_NODE_DATABASE", "postgresql+psycopg://whoelse:pw@leeds-db:5432/whoelse"),
        "service leeds: WHOELSE_NODE_DATABASE holds a database password",
    ),
    "password in the environment": (
        _set_env("bradford-db", "POSTGRES_PASSWORD", "bradford-demo-only"),
        "service bradford-db: POSTGRES_PASSWORD holds a database password",
    ),
    "secret not mounted": (
        lambda c: c["services"]["wakefield"].pop("secrets"),
        "service wakefield: does not mount the secret wakefield-db-password",
    ),
    "rate limit switched off": (
        lambda c: c["services"][DIRECTORY]["command"].extend(["--rate-per-minute", "1000000"]),
        "sets --rate-per-minute",
    ),
}


@pytest.mark.parametrize(("edit", "problem"), BROKEN.values(), ids=BROKEN.keys())
def test_each_inconsistency_is_named(edit: Edit, problem: str) -> None:
    compose = load_compose()
    edit(compose)
    assert any(problem in p for p in compose_problems(compose)), compose_problems(compose)


def test_directory_command_parses_with_the_real_cli() -> None:
    argv = command(load_compose()["services"][DIRECTORY])
    args = build_parser().parse_args(argv)
    assert (args.command, args.directory_command) == ("directory", "serve")
    assert host_port(args.listen) == ("0.0.0.0", 7000)


def test_a_misspelt_subcommand_is_refused_by_the_parser() -> None:
    argv = command(load_compose()["services"][DIRECTORY])
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
        build_parser().parse_args(["directory", "serv", *argv[2:]])


def test_dockerfile_installs_the_project_with_whoelse_as_entrypoint() -> None:
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    assert f"COPY . {IMAGE_ROOT}" in instructions
    assert any(re.search(r"\bpip install (--no-deps )?\.(\s|$)", line) for line in instructions)
    # Dependencies are installed from pyproject.toml alone, before the source is copied, so a source
    # change does not reinstall them.
    source = instructions.index(f"COPY . {IMAGE_ROOT}")
    assert instructions.index(f"COPY pyproject.toml {IMAGE_ROOT}/") < source
    assert any("pip install -r" in line for line in instructions[:source])
    assert instructions[-2:] == ['ENTRYPOINT ["whoelse"]', 'CMD ["--help"]']
    # Every service but the one-off init job runs unprivileged.
    assert any(line.startswith("USER ") and line != "USER root" for line in instructions)


def test_dockerignore_keeps_what_the_image_needs_and_drops_secrets() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".env", "**/*.sqlite", "docker/secrets"} <= ignored
    assert not ignored & {
        "docker",
        "docker/",
        "pyproject.toml",
        "README.md",
        "node",
        "directory",
        "federation",
        "proto",
    }


def test_every_script_a_service_runs_is_in_the_image_and_executable() -> None:
    compose = load_compose()
    for name, service in compose["services"].items():
        argv = command(service) + list((service.get("healthcheck") or {}).get("test") or [])
        for arg in argv:
            if arg.startswith(IMAGE_ROOT + "/"):
                path = REPO / arg[len(IMAGE_ROOT) + 1 :]
                assert path.is_file(), f"service {name}: {arg} is not in the repository"
                if path.suffix == ".sh":
                    assert path.stat().st_mode & stat.S_IXUSR, f"{path} is not executable"


# ---- a dry run of the containers -------------------------------------------------------------------------


@dataclass
class Call:
    service: str
    argv: list[str]
    env: dict[str, str]


@dataclass
class DryRun:
    """What happened when each service's command ran against folders standing in for the volumes."""

    root: Path
    compose: dict[str, Any]
    calls: list[Call] = field(default_factory=list)
    node_configs: dict[str, NodeConfig] = field(default_factory=dict)
    outputs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)

    def filesystem(self, service: str) -> Path:
        return self.root / "containers" / service

    def path_in(self, service: str, container_path: str) -> Path:
        return self.filesystem(service) / container_path.lstrip("/")

    def calls_by(self, service: str, *prefix: str) -> list[list[str]]:
        return [c.argv for c in self.calls if c.service == service and c.argv[: len(prefix)] == list(prefix)]


class WhoelseServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _shim(folder: Path, socket_path: Path) -> None:
    """A `whoelse` on PATH that hands its argv and environment to this test process and replays the answer."""
    (folder / "whoelse").write_text(
        f"#!{sys.executable} -IS\n"
        "import json, os, socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        f"s.connect({str(socket_path)!r})\n"
        "s.sendall(json.dumps({'argv': sys.argv[1:], 'env': dict(os.environ)}).encode() + b'\\n')\n"
        "reply = json.loads(s.makefile('rb').readline())\n"
        "sys.stdout.write(reply['stdout']); sys.stderr.write(reply['stderr']); sys.exit(reply['rc'])\n",
        encoding="utf-8",
    )
    (folder / "whoelse").chmod(0o755)
    (folder / "python3").symlink_to(sys.executable)  # the scripts' `python3`, as in the image


def _serve_node(run: DryRun, service: str, argv: list[str], env: dict[str, str]) -> None:
    """`node serve` up to binding its ports: exactly the config and runtime checks the container makes."""
    from whoelse.node.runtime import NodeRuntime

    args = build_parser().parse_args(argv)
    [path] = args.config if isinstance(args.config, list) else [args.config]  # one council per container
    config = load_config(Path(path), environ=env)
    runtime = NodeRuntime(config)
    runtime.channel.close()
    runtime.db.dispose()
    run.node_configs[service] = config


def _serve_directory(run: DryRun) -> None:
    """`directory serve` with its real files, on a free loopback port instead of the container's, and the
    service's health check run against it while it is up."""
    from whoelse.directory.router import NodeChannels
    from whoelse.directory.server import create_server
    from whoelse.directory.setup import key_directory
    from whoelse.directory.storage import DirectoryDatabase
    from whoelse.federation.transport import MtlsIdentity

    service = run.compose["services"][DIRECTORY]
    container(run, DIRECTORY)
    args = build_parser().parse_args([translate(run, DIRECTORY, arg) for arg in command(service)])
    db = DirectoryDatabase.open(args.db)
    identity = MtlsIdentity.from_files(args.ca, args.cert, args.key)
    assert identity.common_name == "directory"
    channels = NodeChannels(identity)
    server, port = create_server("127.0.0.1:0", db, identity, key_directory(db, args.dir), channels)
    server.start()
    try:
        listen_port = host_port(args.listen)[1]
        check = [translate(run, DIRECTORY, arg) for arg in service["healthcheck"]["test"][1:]]
        check = [
            sys.executable if arg == "python" else arg.replace(f":{listen_port}", f":{port}") for arg in check
        ]
        run.outputs["directory healthcheck"] = subprocess.run(
            check, capture_output=True, text=True, timeout=30, check=False
        )
    finally:
        server.stop(grace=None).wait()
        channels.close()


@contextlib.contextmanager
def _keys_from(env: dict[str, str]) -> Iterator[None]:
    """The command's WHOELSE_NODE_KEYS (where its node's key store is), as the container would give it."""
    previous = os.environ.pop(KEYS_ENV, None)
    if KEYS_ENV in env:
        os.environ[KEYS_ENV] = env[KEYS_ENV]
    try:
        yield
    finally:
        os.environ.pop(KEYS_ENV, None)
        if previous is not None:
            os.environ[KEYS_ENV] = previous


def _answer(run: DryRun, service: str, argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    run.calls.append(Call(service, argv, env))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            if argv[:2] == ["node", "serve"]:
                _serve_node(run, service, argv, env)
                rc = 0
            else:
                with _keys_from(env):
                    rc = main(argv)
        except SystemExit as exc:  # argparse refusing the command line
            rc = exc.code if isinstance(exc.code, int) else 2
        except Exception as exc:
            print(f"whoelse (dry run): {type(exc).__name__}: {exc}", file=sys.stderr)
            rc = 1
    return {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}


@contextlib.contextmanager
def whoelse_on_path(run: DryRun, service: str) -> Iterator[Path]:
    folder = run.root / "bin" / service
    folder.mkdir(parents=True)
    sockets = Path(tempfile.mkdtemp(prefix="whoelse-"))  # short: a socket path is limited to ~100 bytes
    socket_path = sockets / f"{service}.sock"

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            request = json.loads(self.rfile.readline())
            self.wfile.write(
                json.dumps(_answer(run, service, request["argv"], request["env"])).encode() + b"\n"
            )

    server = WhoelseServer(str(socket_path), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _shim(folder, socket_path)
        yield folder
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(sockets, ignore_errors=True)


def container(run: DryRun, service: str) -> dict[str, str]:
    """Build the service's filesystem (volumes as shared folders) and return its environment, translated."""
    spec = run.compose["services"][service]
    fs = run.filesystem(service)
    fs.mkdir(parents=True, exist_ok=True)
    for volume, target in mounts(spec):
        shared = run.root / "volumes" / volume
        shared.mkdir(parents=True, exist_ok=True)
        link = run.path_in(service, target)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(shared, target_is_directory=True)
    return {key: translate(run, service, value) for key, value in environment(spec).items()}


def translate(run: DryRun, service: str, value: str) -> str:
    """Container paths → this service's folder; the image's code → the repository; PostgreSQL → SQLite."""

    def database(match: re.Match[str]) -> str:
        host = urlsplit(match.group(0)).hostname or "?"
        volume = next(v for v, t in mounts(run.compose["services"][host]) if t == "/var/lib/postgresql/data")
        (run.root / "volumes" / volume).mkdir(parents=True, exist_ok=True)
        return str(run.root / "volumes" / volume / "whoelse.sqlite")

    value = re.sub(r"postgresql\+psycopg://\S+", database, value)
    if value.startswith(IMAGE_ROOT + "/"):
        return str(REPO / value[len(IMAGE_ROOT) + 1 :])
    if value.startswith("/") and not value.startswith(str(run.root)):
        return str(run.path_in(service, value))
    return value


def run_service(run: DryRun, service: str, *, script: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = container(run, service)
    argv = [translate(run, service, arg) for arg in command(run.compose["services"][service])]
    if script is not None:
        argv[0] = str(script)
    if service == INIT:
        # The image's `whoelse` user does not exist here; handing the files to ourselves runs the same step.
        env["WHOELSE_OWNER"] = f"{os.getuid()}:{os.getgid()}"
    with whoelse_on_path(run, service) as bin_dir:
        env |= {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(run.filesystem(service)), "LANG": "C.UTF-8"}
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    run.outputs[service] = proc
    return proc


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> DryRun:
    run = DryRun(tmp_path_factory.mktemp("compose"), load_compose())
    proc = run_service(run, INIT)
    assert proc.returncode == 0, proc.stderr
    _serve_directory(run)
    for council in COUNCILS:
        proc = run_service(run, council)
        assert proc.returncode == 0, f"{council}: {proc.stderr}"
    return run


def test_every_whoelse_call_the_containers_make_parses(dry_run: DryRun) -> None:
    parser = build_parser()
    assert len(dry_run.calls) > 10
    with contextlib.redirect_stderr(io.StringIO()):
        for call in dry_run.calls:
            parser.parse_args(call.argv)


def test_init_builds_the_pki_and_enrols_each_council_at_its_advertised_endpoint(dry_run: DryRun) -> None:
    assert dry_run.calls_by(INIT, "ca", "init")
    issued = {option(argv, "--name"): argv for argv in dry_run.calls_by(INIT, "ca", "issue")}
    assert set(issued) == {"directory", *(code for code, _ in COUNCILS.values())}
    assert "directory" in issued["directory"]
    added = {argv[2]: option(argv, "--endpoint") for argv in dry_run.calls_by(INIT, "directory", "add")}
    assert added == {
        code: environment(dry_run.compose["services"][council])["WHOELSE_NODE_LISTEN_FEDERATION"]
        for council, (code, _) in COUNCILS.items()
    }
    for council, (code, _) in COUNCILS.items():
        assert council in issued[code]  # the name the directory dials it by is on its certificate


def test_each_node_serves_with_its_own_certificate_database_and_the_directory(dry_run: DryRun) -> None:
    assert set(dry_run.node_configs) == set(COUNCILS)
    for council, config in dry_run.node_configs.items():
        code = COUNCILS[council][0]
        assert config.tls.cert.name == f"{code}.crt"
        assert config.directory == "directory:7000"
        assert config.database.endswith(f"{council}-db/whoelse.sqlite")
        assert config.listen_federation == f"{council}:7101"
        assert len(dry_run.calls_by(council, "node", "serve")) == 1


def test_nodes_import_their_own_council_records_and_seed_practitioners(dry_run: DryRun) -> None:
    for council, (code, _) in COUNCILS.items():
        imports = dry_run.calls_by(council, "node", "import")
        assert [Path(argv[2]).name for argv in imports] == [f"{code}.jsonl"]
        assert dry_run.calls_by(council, "node", "seed-practitioners")
        assert f"imported 30 records from {code}.jsonl into" in dry_run.outputs[council].stdout


def test_each_node_serves_its_portal_over_https_on_a_loopback_port_of_the_host(dry_run: DryRun) -> None:
    host_ports = set()
    for council in COUNCILS:
        [serve] = dry_run.calls_by(council, "node", "serve")
        args = build_parser().parse_args(serve)
        assert (args.portal_port, args.portal_host, args.portal_plain_http) == (8443, "0.0.0.0", False)
        [published] = [p for p in dry_run.compose["services"][council]["ports"] if p.endswith(":8443")]
        assert published.startswith("127.0.0.1:")
        host_ports.add(published.split(":")[1])
    assert len(host_ports) == len(COUNCILS)


def test_the_directory_health_check_passes_against_the_directory(dry_run: DryRun) -> None:
    check = dry_run.outputs["directory healthcheck"]
    assert check.returncode == 0, check.stderr


def test_health_checks_use_files_their_service_has(dry_run: DryRun) -> None:
    for service in (DIRECTORY, *COUNCILS):
        test = dry_run.compose["services"][service]["healthcheck"]["test"]
        files = [arg for arg in test if arg.startswith("/") and not arg.startswith(IMAGE_ROOT)]
        assert files
        for path in files:
            assert dry_run.path_in(service, path).is_file(), f"{service}: {path}"


def test_each_container_can_search_as_its_practitioners(dry_run: DryRun) -> None:
    for council, config in dry_run.node_configs.items():
        data = json.loads((config.state_dir / "federation.json").read_text(encoding="utf-8"))
        assert Path(data["ca_file"]).resolve() == config.tls.ca
        [entry] = data["councils"]
        assert entry["code"] == COUNCILS[council][0]
        assert entry["practitioner_endpoint"] == "localhost:" + config.listen_practitioner.rsplit(":", 1)[1]
        assert data["practitioners"] and all(p["council"] == entry["code"] for p in data["practitioners"])
        assert data["samples"] and all(len(s["held_by"]) >= 2 for s in data["samples"])
        assert stat.S_IMODE((config.state_dir / "federation.json").stat().st_mode) == 0o600


def test_a_council_never_gets_the_ca_key_or_another_councils_key(dry_run: DryRun) -> None:
    for council, (code, _) in COUNCILS.items():
        visible = {
            Path(folder, name).relative_to(dry_run.filesystem(council))
            for folder, _, names in os.walk(
                dry_run.filesystem(council), followlinks=True
            )  # volumes are links
            for name in names
            if name.endswith(".key")
        }
        tls = {path for path in visible if path.name == f"{code}.key"}
        own_store = {path.name for path in visible - tls if path.parent == Path("node/keys")}
        assert len(tls) == 1 and own_store == {"signing.key", "sealing.key", "tag.key", "totp.key"}
        assert len(visible) == 5  # its TLS key and its own key store (WHOELSE_NODE_KEYS=/node/keys): no other


def test_a_typo_in_a_script_fails_the_dry_run(tmp_path: Path) -> None:
    script = tmp_path / "init-federation.sh"
    script.write_text(
        (REPO / "docker" / "init-federation.sh").read_text(encoding="utf-8").replace("ca issue", "ca isue"),
        encoding="utf-8",
    )
    script.chmod(0o755)
    run = DryRun(tmp_path / "run", load_compose())
    proc = run_service(run, INIT, script=script)
    assert proc.returncode != 0
    assert "invalid choice: 'isue'" in proc.stderr

"""deploy/compose: the file is valid against the Compose Specification's JSON schema
(as check-jsonschema vendors it), and it names only what exists: variables declared in
its one .env, services, volumes, bind-mounted files, the Dockerfile, tokentrail flags
and settings the real CLI has, and the ports those settings default to. No Docker
engine can run here, so the stack itself was never started (deploy/README.md)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from tests.deploy.configs import (
    COMPOSE_DIR,
    OTELCOL_DIR,
    compose_spec_schema,
    compose_variables,
    dotenv,
    interpolate,
    otelcol_env,
    parse_command,
    setting_env_names,
)
from tests.deploy.otelcol_contrib import DISTRIBUTION_VERSION
from tokentrail.settings import Settings

COMPOSE = COMPOSE_DIR / "compose.yaml"
ENV = COMPOSE_DIR / ".env"
TOKENTRAIL_SERVICES = ("schema", "ui", "collector")


def _filled_env() -> dict[str, str]:
    """.env with its empty secrets filled, as a user must before `up`."""
    return {k: v or f"filled-{k.lower()}" for k, v in dotenv(ENV).items()}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(interpolate(COMPOSE.read_text(), _filled_env()))


def test_valid_against_the_compose_spec_schema(compose):
    schema = compose_spec_schema()
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(yaml.safe_load(COMPOSE.read_text()))  # as written
    validator.validate(compose)  # and as compose sees it after .env
    broken = {**compose, "services": {**compose["services"],
                                      "ui": {**compose["services"]["ui"], "helthcheck": {}}}}
    with pytest.raises(jsonschema.ValidationError, match="helthcheck"):
        validator.validate(broken)  # the schema does catch a misspelt key


def test_every_variable_is_declared_in_the_one_env_file_and_secrets_are_empty():
    used = compose_variables(COMPOSE.read_text())
    declared = dotenv(ENV)
    assert used == set(declared), "compose.yaml and .env must name the same variables"
    secrets = {k for k in declared if k.endswith(("PASSWORD", "TOKEN"))}
    assert secrets and all(declared[k] == "" for k in secrets), "no default secrets"
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert secrets <= required, "compose must refuse to start with an empty secret"


def test_images_are_pinned():
    env = dotenv(ENV)
    for name in ("TOKENTRAIL_IMAGE", "CLICKHOUSE_IMAGE", "OTELCOL_IMAGE"):
        image, _, tag = env[name].rpartition(":")
        assert image and tag and tag != "latest", name
    assert env["OTELCOL_IMAGE"] == f"otel/opentelemetry-collector-contrib:{DISTRIBUTION_VERSION}"
    assert env["TOKENTRAIL_IMAGE"].endswith(":" + _project_version())


def _project_version() -> str:
    import tokentrail
    return tokentrail.__version__


def test_references_resolve(compose):
    services, volumes = compose["services"], set(compose["volumes"])
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (COMPOSE_DIR / source).is_file(), f"{name} mounts missing {source}"
            else:
                assert source in volumes, f"{name} uses undeclared volume {source}"
        if "build" in service:
            context = (COMPOSE_DIR / service["build"]["context"]).resolve()
            assert (context / service["build"]["dockerfile"]).is_file()
    used_volumes = {m.split(":", 1)[0] for s in services.values() for m in s.get("volumes", [])}
    assert volumes <= used_volumes


def test_tokentrail_services_use_real_flags_settings_and_ports(compose):
    services = compose["services"]
    defaults = Settings.model_fields
    expected_ports = {
        "ui": {defaults["ui_port"].default},
        "collector": {defaults["otlp_http_port"].default, defaults["otlp_grpc_port"].default},
        "schema": set(),
    }
    for name in TOKENTRAIL_SERVICES:
        service = services[name]
        parse_command(service["command"])  # the image's ENTRYPOINT is `tokentrail`
        assert set(service["environment"]) <= setting_env_names(), name
        container_ports = {int(p.rsplit(":", 1)[1]) for p in service.get("ports", [])}
        assert container_ports == expected_ports[name], name
    assert services["ui"]["command"] == ["serve", "--no-collector"]
    assert services["collector"]["command"] == ["serve", "--no-ui"]
    assert "TOKENTRAIL_UI_TOKEN" in services["ui"]["environment"]
    assert "TOKENTRAIL_INGEST_TOKEN" in services["collector"]["environment"]


def test_long_running_services_have_health_checks(compose):
    """Every service but the one-shot jobs and the Collector (its distroless image has
    nothing to run a check with; the comment there says so) is checked, on the port its
    process listens on."""
    services = compose["services"]
    one_shot = {name for name, s in services.items() if s.get("restart") == "no"}
    assert one_shot == {"schema", "otelcol-queue-owner"}
    checked = {name for name, s in services.items() if "healthcheck" in s}
    assert checked == set(services) - one_shot - {"otelcol"}
    assert "8765/healthz" in " ".join(services["ui"]["healthcheck"]["test"])
    assert "4318" in " ".join(services["collector"]["healthcheck"]["test"])
    assert "8123/ping" in " ".join(services["clickhouse"]["healthcheck"]["test"])
    assert services["otelcol"]["depends_on"]["schema"]["condition"] == \
        "service_completed_successfully"


def test_the_collector_gets_every_variable_its_config_reads(compose):
    otelcol = compose["services"]["otelcol"]
    (mount,) = [m for m in otelcol["volumes"] if m.startswith("../otelcol/")]
    source, target = mount.split(":")[:2]
    config = (COMPOSE_DIR / source).resolve()
    assert config.parent == OTELCOL_DIR.resolve()
    assert otelcol_env(config.read_text()) == set(otelcol["environment"])
    assert f"--config={target}" in otelcol["command"]
    queue = yaml.safe_load(config.read_text())["extensions"]["file_storage/queue"]
    (queue_volume,) = [m.split(":")[0] for m in otelcol["volumes"]
                       if m.endswith(":" + queue["directory"])]  # on a volume
    owner = compose["services"]["otelcol-queue-owner"]  # made writable for uid 10001
    assert owner["volumes"] == [f"{queue_volume}:{queue['directory']}"]
    assert owner["entrypoint"][-1] == queue["directory"]
    assert otelcol["depends_on"]["otelcol-queue-owner"]["condition"] == \
        "service_completed_successfully"


def test_database_and_credentials_agree(compose):
    services = compose["services"]
    dsn = services["ui"]["environment"]["TOKENTRAIL_CLICKHOUSE"]
    ch = services["clickhouse"]["environment"]
    assert dsn == (f"http://{ch['CLICKHOUSE_USER']}:{ch['CLICKHOUSE_PASSWORD']}"
                   f"@clickhouse:8123/{ch['CLICKHOUSE_DB']}")
    assert services["otelcol"]["environment"]["CLICKHOUSE_DATABASE"] == ch["CLICKHOUSE_DB"]
    endpoint = urlsplit(services["otelcol"]["environment"]["CLICKHOUSE_ENDPOINT"])
    assert endpoint.hostname in services and endpoint.port == 9000  # ClickHouse native

"""The production manifests in deploy/, checked without a container engine or a cluster.

- docker compose: `composecheck` (deploy/tools/composecheck, compose-go: the library `docker compose config`
  loads with) interpolates, validates against the compose-spec schema, normalises and checks consistency;
- Helm: `helm lint --strict` and `helm template`, then every rendered object against the Kubernetes JSON schemas
  that kubernetes-validate ships (strict: an unknown field is an error), for the oldest and newest Kubernetes
  versions the chart claims;
- both: every CIVICGRID_* variable a civicgrid container gets is loaded by the real `Settings` (an unknown or
  misspelt setting is an error there), and the civicgrid.toml each ships loads too.

`make setup` builds composecheck and helm into var/tools/bin; a missing tool fails these tests (it never skips
them). Nothing here starts a container: docs in deploy/README.md say what was run where.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from civicgrid.broker.accounts import service_account
from civicgrid.settings import GatewaySettings, Settings, StackSettings
from civicgrid.stack.mosquitto import PACKET_OVERHEAD_BYTES

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("CIVICGRID_TOOLS_DIR", ROOT / "var" / "tools" / "bin"))
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
CHART = ROOT / "deploy" / "helm" / "civicgrid"
TEST_VALUES = Path(__file__).with_name("values-test.yaml")
# The chart needs the pod-index label (1.28); the newest schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.28.0", "1.37.0")
CIVICGRID_COMPOSE_SERVICES = {"migrate", "broker-accounts", "gateway-0", "gateway-1", "worker", "cameras", "api"}
ONE_SHOT = {"migrate"}
SECRET_WORDS = re.compile(r"PASSWORD|SECRET|TOKEN|JWT|_KEY$", re.IGNORECASE)
FILE_SECRET = "SECRET_FILE__"  # the image's entrypoint reads the file into the setting named after it


def tool(name: str) -> Path:
    path = TOOLS / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: `make setup` builds it (deploy/debian/setup.sh, step 6)", pytrace=False)
    return path


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120, check=False)


# ----------------------------------------------------------------------------------------------- docker compose
def compose_secret_files() -> list[str]:
    """The secret file names compose.yaml reads from ${CIVICGRID_SECRETS_DIR}."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    return sorted(Path(s["file"]).name for s in raw["secrets"].values())


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir()
    for name in compose_secret_files():
        (directory / name).write_text("{}\n" if name.endswith(".json") else os.urandom(24).hex() + "\n")
    return directory


def example_env(secrets_dir: Path | None) -> str:
    """.env.example as an operator would copy it, with the secrets directory of this test (or without the line)."""
    lines = []
    for line in (COMPOSE_DIR / ".env.example").read_text().splitlines():
        if line.startswith("CIVICGRID_SECRETS_DIR="):
            if secrets_dir is not None:
                lines.append(f"CIVICGRID_SECRETS_DIR={secrets_dir}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def compose_config(tmp_path: Path, env: str) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "test.env"
    env_file.write_text(env)
    return run(tool("composecheck"), "-no-os-env", "-env-file", env_file, "-require-files", "-f", COMPOSE_FILE)


@pytest.fixture
def compose(tmp_path: Path, secrets_dir: Path) -> dict[str, Any]:
    result = compose_config(tmp_path, example_env(secrets_dir))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def civicgrid_services(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in project["services"].items() if s["image"].startswith("civicgrid:")}


def test_compose_renders_with_every_service(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"kafka", "mosquitto", "timescaledb", "prometheus"} | CIVICGRID_COMPOSE_SERVICES
    assert set(civicgrid_services(compose)) == CIVICGRID_COMPOSE_SERVICES
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:")
    assert compose["services"]["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    assert compose["services"]["timescaledb"]["image"].startswith("timescale/timescaledb")


def test_compose_fails_without_the_secrets_directory(tmp_path: Path) -> None:
    """No secret has a default: every one of them, left to the defaults, stops the render."""
    result = compose_config(tmp_path, example_env(None))
    assert result.returncode != 0
    refused = set(re.findall(r"error while interpolating secrets\.([\w-]+)\.file: required variable "
                             r"CIVICGRID_SECRETS_DIR is missing a value", result.stderr))
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    assert refused == set(raw["secrets"]), result.stderr


def test_compose_fails_when_a_secret_file_is_missing(tmp_path: Path, secrets_dir: Path) -> None:
    (secrets_dir / "api-jwt").unlink()
    result = compose_config(tmp_path, example_env(secrets_dir))
    assert result.returncode != 0
    assert f'secret "api-jwt": {secrets_dir / "api-jwt"}' in result.stderr


def test_compose_secrets_are_files_never_values(compose: dict[str, Any]) -> None:
    for name, secret in compose["secrets"].items():
        assert secret.get("file"), f"secret {name} must be a file the operator creates"
        assert not secret.get("environment") and not secret.get("content"), name
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if key.startswith(FILE_SECRET):
                assert value.startswith("/run/secrets/"), (name, key)
            elif SECRET_WORDS.search(key) and not (key.endswith("_FILE") and value.startswith("/run/secrets/")):
                pytest.fail(f"{name}: {key} carries a secret in the environment")
        url = (service.get("environment") or {}).get("CIVICGRID_DB__URL")
        if url:
            assert urlsplit(url).password is None, f"{name}: the database password is in CIVICGRID_DB__URL"


def test_compose_long_running_services_have_health_checks_and_limits(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name
        assert service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory"), f"{name}: no limit"
    for name in CIVICGRID_COMPOSE_SERVICES - ONE_SHOT - {"broker-accounts"}:
        assert compose["services"][name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("gateway-0", "gateway-1"):
        assert compose["services"][name]["healthcheck"]["test"][-1] == "http://127.0.0.1:9100/healthz"
    assert compose["services"]["api"]["healthcheck"]["test"][-1] == "https://127.0.0.1:8443/healthz"
    assert compose["services"]["worker"]["healthcheck"]["test"][-1] == "http://127.0.0.1:9100/readyz"
    assert compose["services"]["cameras"]["healthcheck"]["test"][-1] == "http://127.0.0.1:9100/healthz"


def test_compose_gateways_are_numbered_with_their_own_sessions(compose: dict[str, Any]) -> None:
    gateways = {n: s for n, s in compose["services"].items() if re.fullmatch(r"gateway-\d+", n)}
    count = len(gateways)
    assert count >= 2
    indexes, client_ids = set(), set()
    for name, service in gateways.items():
        env = service["environment"]
        assert service["command"] == ["civicgrid", "gateway"]
        assert env["CIVICGRID_GATEWAY__INSTANCE"] == name.removeprefix("gateway-"), name
        assert env["CIVICGRID_GATEWAY__INSTANCES"] == str(count), name
        assert env["CIVICGRID_GATEWAY__METRICS_HOST"] == "0.0.0.0"
        indexes.add(int(env["CIVICGRID_GATEWAY__INSTANCE"]))
        client_ids.add(env["CIVICGRID_GATEWAY__CLIENT_ID"])
        assert "deploy" not in service or service["deploy"].get("replicas", 1) == 1, f"{name} must not be scaled"
    assert indexes == set(range(count))
    assert len(client_ids) == count


def test_compose_civicgrid_environment_is_real_settings(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                         secrets_dir: Path) -> None:
    """Every CIVICGRID_* variable of every civicgrid service is a setting `Settings` accepts, as the image's
    entrypoint hands it over (SECRET_FILE__CIVICGRID_* read into CIVICGRID_*)."""
    for name, service in civicgrid_services(compose).items():
        env = dict(service["environment"])
        for key in [k for k in env if k.startswith(FILE_SECRET)]:
            env[key.removeprefix(FILE_SECRET)] = "x" * 32
            del env[key]
        env["CIVICGRID_CONFIG"] = str(COMPOSE_DIR / "civicgrid.toml")
        settings = load_settings_from(env, monkeypatch)
        assert settings.kafka.bootstrap_servers == "kafka:9092", name
        assert settings.mqtt.host == "mosquitto", name
    # The API registers devices (civicgrid/broker/provisioning.py), which rewrites every broker account.
    platform = {"/var/lib/civicgrid/secrets/" + n for n in ("api-jwt", "mqtt-gateway", "db-app")}
    assert platform <= {s["target"] for s in civicgrid_services(compose)["api"]["secrets"]}
    api = load_settings_from({**civicgrid_services(compose)["api"]["environment"],
                              "CIVICGRID_CONFIG": str(COMPOSE_DIR / "civicgrid.toml")}, monkeypatch)
    assert api.api.tls_certfile is not None and not api.api.docs_enabled


def load_settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    with monkeypatch.context() as m:
        for key in [k for k in os.environ if k.startswith("CIVICGRID_")]:
            m.delenv(key)
        for key, value in env.items():
            if key.startswith("CIVICGRID_"):
                m.setenv(key, value)
        return Settings()


def test_compose_kafka_keeps_topics_declared_and_retention_set(compose: dict[str, Any],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert int(env["KAFKA_LOG_RETENTION_HOURS"]) > 0
    settings = load_settings_from({"CIVICGRID_CONFIG": str(COMPOSE_DIR / "civicgrid.toml")}, monkeypatch)
    assert settings.kafka.retention["cg.deadletter"].hours == 720
    assert settings.kafka.retention["cg.commands"].hours == 24  # a topic the file leaves alone keeps its default


def test_prometheus_scrapes_every_gateway_and_the_api(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {t for sc in jobs["civicgrid-gateway"]["static_configs"] for t in sc["targets"]}
    gateways = {n for n in compose["services"] if re.fullmatch(r"gateway-\d+", n)}
    assert targets == {f"{g}:9100" for g in gateways}
    for service in ("worker", "cameras"):
        (sd,) = jobs[f"civicgrid-{service}"]["dns_sd_configs"]
        assert (sd["names"], sd["port"]) == ([service], 9100)
    api = jobs["civicgrid-api"]
    assert api["scheme"] == "https" and api["authorization"]["credentials_file"] == "/run/secrets/metrics-token"
    assert "metrics-token" in {s["source"] for s in compose["services"]["prometheus"]["secrets"]}


def test_mosquitto_config_keeps_the_local_stacks_rules() -> None:
    """The production broker keeps what the local stack's does on purpose (civicgrid/stack/mosquitto.py)."""
    conf = dict(line.split(None, 1) for line in (CHART / "files" / "mosquitto.conf").read_text().splitlines()
                if line and not line.startswith("#") and not line.startswith("listener"))
    stack, gateway = StackSettings(), GatewaySettings()
    assert conf["allow_anonymous"] == "false"
    assert conf["per_listener_settings"] == "false"
    assert conf["persistence"] == "true"
    assert int(conf["max_queued_messages"]) >= stack.mqtt_max_queued_messages
    assert int(conf["max_inflight_messages"]) >= stack.mqtt_max_inflight_messages
    assert int(conf["max_packet_size"]) == gateway.max_payload_bytes + PACKET_OVERHEAD_BYTES
    # The gateway's account name in the manifests is the one broker-accounts writes the ACL for.
    assert service_account("civicgrid-gateway", "x").read == ("cg/+/+", "cg/+/cmd/ack")


def test_image_entrypoint_reads_file_secrets_into_settings(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret-value-of-thirty-two-chars\n")
    env = {"PATH": os.environ["PATH"], "SECRET_FILE__CIVICGRID_API__METRICS_TOKEN": str(secret),
           "CIVICGRID_KAFKA__SSL_CA_FILE": "/etc/ssl/kafka-ca.crt"}  # a setting that ends in _FILE is left alone
    helper = ROOT / "deploy" / "compose" / "image" / "civicgrid-deploy"
    python = shutil.which("python3") or "python3"
    result = subprocess.run([python, str(helper), "exec", python, "-c",
                             "import os; print(sorted(k for k in os.environ if k.startswith('CIVICGRID_'))); "
                             "print(os.environ['CIVICGRID_API__METRICS_TOKEN'])"],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["['CIVICGRID_API__METRICS_TOKEN', 'CIVICGRID_KAFKA__SSL_CA_FILE']",
                                          "s3cret-value-of-thirty-two-chars"]


# --------------------------------------------------------------------------------------------------------- Helm
def helm_template(*extra: str | Path) -> subprocess.CompletedProcess[str]:
    return run(tool("helm"), "template", "city", CHART, "--namespace", "civicgrid", *extra)


def render(*extra: str | Path) -> list[dict[str, Any]]:
    result = helm_template("-f", TEST_VALUES, *extra)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render()


def workloads(objects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (o for o in objects if o["kind"] in {"Deployment", "StatefulSet", "Job"})


def civicgrid_containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]["template"]["spec"]
    return [c for c in spec["containers"] if "/civicgrid:" in c["image"]]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} rendered"
    return found[0]


def test_helm_lint_is_clean() -> None:
    result = run(tool("helm"), "lint", "--strict", CHART, "-f", TEST_VALUES)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("values", "message"), [
    ([], "secrets.existingSecret"),
    (["--set", "secrets.existingSecret=s"], "mosquitto.tlsSecret"),
])
def test_helm_refuses_to_render_without_operator_secrets(values: list[str], message: str) -> None:
    result = helm_template(*values)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize("variant", [
    [],
    ["--set", "kafka.tls.enabled=true", "--set", "kafka.tls.secretName=kafka-tls", "--set",
     "metrics.serviceMonitor.enabled=true", "--set", "api.tlsSecret=", "--set", "api.ingress.enabled=false"],
    ["--set", "kafka.enabled=false", "--set", "kafka.external.bootstrapServers=k1:9093\\,k2:9093",
     "--set", "kafka.external.securityProtocol=SASL_SSL", "--set", "kafka.external.caSecret=kafka-ca",
     "--set", "kafka.external.saslMechanism=SCRAM-SHA-512", "--set", "kafka.external.saslUsername=civicgrid",
     "--set", "kafka.external.saslPasswordSecret=kafka-sasl", "--set", "timescaledb.enabled=false",
     "--set", "timescaledb.externalUrl=postgresql://civicgrid@tsdb.city.example:5432/civicgrid?sslmode=verify-full"],
    ["--is-upgrade"],
], ids=["test-values", "kafka-tls+servicemonitor", "external-kafka-and-db", "upgrade"])
@pytest.mark.parametrize("kubernetes", KUBERNETES_VERSIONS)
def test_every_rendered_object_is_valid_kubernetes(variant: list[str], kubernetes: str) -> None:
    objects = render(*variant)
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            assert obj["kind"] == "ServiceMonitor"  # a CRD: no schema in kubernetes-validate
            continue
        try:
            kubernetes_validate.validate(obj, kubernetes, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']} is not valid Kubernetes {kubernetes}: "
                        f"{exc.message} at {'/'.join(map(str, exc.path))}")
    assert not [o for o in objects if o["kind"] == "Secret"], "the chart must not render Secrets"


def test_helm_ships_no_secret_values(objects: list[dict[str, Any]]) -> None:
    assert not [o for o in objects if o["kind"] == "Secret"]
    for workload in workloads(objects):
        spec = workload["spec"]["template"]["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            for var in container.get("env", []):
                if SECRET_WORDS.search(var["name"]) and not var.get("value", "").startswith("/"):  # not a file
                    assert "value" not in var, f"{workload['metadata']['name']}: {var['name']} has a literal value"
                if var["name"] == "CIVICGRID_DB__URL":
                    assert urlsplit(var["value"]).password is None


def test_every_civicgrid_workload_has_probes_and_resources(objects: list[dict[str, Any]]) -> None:
    seen = set()
    for workload in workloads(objects):
        spec = workload["spec"]["template"]["spec"]
        assert spec.get("enableServiceLinks") is False, workload["metadata"]["name"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), (workload["metadata"]["name"],
                                                                            container["name"])
            assert "memory" in resources.get("limits", {}), (workload["metadata"]["name"], container["name"])
        for container in spec["containers"] if workload["kind"] != "Job" else []:
            assert container.get("readinessProbe"), (workload["metadata"]["name"], container["name"])
            assert container.get("livenessProbe"), (workload["metadata"]["name"], container["name"])
        for container in civicgrid_containers(workload):
            seen.add(container["args"][1])
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert True in (spec["securityContext"].get("runAsNonRoot"), container["securityContext"].get(
                "runAsNonRoot")), f"{workload['metadata']['name']}: {container['name']} may run as root"
            if container["args"][0] == "civicgrid":  # waits for the schema and the topics
                assert [c["args"] for c in spec["initContainers"]] == [["civicgrid-deploy", "wait-ready"]]
    assert {"gateway", "worker", "cameras", "api", "broker-accounts", "prepare"} <= seen


@pytest.mark.parametrize(("name", "ready"), [("worker", "/readyz"), ("cameras", "/healthz")])
def test_workers_and_pollers_are_probed_and_scraped_on_their_endpoint(objects: list[dict[str, Any]], name: str,
                                                                     ready: str) -> None:
    workload = named(objects, "Deployment", f"city-civicgrid-{name}")
    (container,) = civicgrid_containers(workload)
    assert container["readinessProbe"]["httpGet"] == {"path": ready, "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    annotations = workload["spec"]["template"]["metadata"]["annotations"]
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == "metrics")
    assert annotations["prometheus.io/port"] == str(port)
    assert named(objects, "Service", f"city-civicgrid-{name}")["spec"]["ports"][0]["port"] == port


def test_gateway_statefulset_takes_its_index_from_the_pod_ordinal(objects: list[dict[str, Any]]) -> None:
    gateway = named(objects, "StatefulSet", "city-civicgrid-gateway-a")
    assert gateway["spec"]["replicas"] == 3
    (container,) = civicgrid_containers(gateway)
    env = {var["name"]: var for var in container["env"]}
    assert env["CIVICGRID_GATEWAY__INSTANCE"]["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.labels['apps.kubernetes.io/pod-index']"
    assert env["CIVICGRID_GATEWAY__INSTANCES"]["value"] == "3"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["CIVICGRID_GATEWAY__CLIENT_ID"]["value"] == "$(POD_NAME)"
    names = [var["name"] for var in container["env"]]
    assert names.index("POD_NAME") < names.index("CIVICGRID_GATEWAY__CLIENT_ID")  # $(…) sees only earlier ones
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"


def test_a_second_gateway_fleet_is_its_own_statefulset() -> None:
    objects = render("--set", "gateway.fleets[0].name=a", "--set", "gateway.fleets[0].replicas=2",
                     "--set", "gateway.fleets[1].name=b", "--set", "gateway.fleets[1].replicas=4")
    a = named(objects, "StatefulSet", "city-civicgrid-gateway-a")
    b = named(objects, "StatefulSet", "city-civicgrid-gateway-b")
    env_of = {s["metadata"]["name"]: {v["name"]: v.get("value") for v in civicgrid_containers(s)[0]["env"]}
              for s in (a, b)}
    assert env_of["city-civicgrid-gateway-a"]["CIVICGRID_GATEWAY__INSTANCES"] == "2"
    assert env_of["city-civicgrid-gateway-b"]["CIVICGRID_GATEWAY__INSTANCES"] == "4"
    assert env_of["city-civicgrid-gateway-a"]["CIVICGRID_GATEWAY__SHARE_GROUP"] != \
        env_of["city-civicgrid-gateway-b"]["CIVICGRID_GATEWAY__SHARE_GROUP"]
    assert a["spec"]["selector"] != b["spec"]["selector"]


def test_kafka_runs_three_kraft_brokers_with_retention(objects: list[dict[str, Any]]) -> None:
    kafka = named(objects, "StatefulSet", "city-civicgrid-kafka")
    assert kafka["spec"]["replicas"] == 3
    assert kafka["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    headless = named(objects, "Service", kafka["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    env = {var["name"]: var for var in kafka["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KAFKA_PROCESS_ROLES"]["value"] == "broker,controller"
    assert len(env["KAFKA_CONTROLLER_QUORUM_VOTERS"]["value"].split(",")) == 3
    assert env["KAFKA_NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.labels['apps.kubernetes.io/pod-index']"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]["value"] == "false"
    assert env["KAFKA_MIN_INSYNC_REPLICAS"]["value"] == "2"
    assert int(env["KAFKA_LOG_RETENTION_HOURS"]["value"]) > 0
    for workload in workloads(objects):
        for container in civicgrid_containers(workload):
            values = {v["name"]: v.get("value") for v in container["env"]}
            assert values["CIVICGRID_KAFKA__REPLICATION_FACTOR"] == "3"
            assert len(values["CIVICGRID_KAFKA__BOOTSTRAP_SERVERS"].split(",")) == 3


def test_helm_civicgrid_environment_is_real_settings(objects: list[dict[str, Any]], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Each civicgrid container's environment, as the kubelet would resolve it for pod 0, loads into `Settings`,
    with the chart's civicgrid.toml (its retention included)."""
    config = named(objects, "ConfigMap", "city-civicgrid-config")
    toml = tmp_path / "civicgrid.toml"
    toml.write_text(config["data"]["civicgrid.toml"])
    for workload in workloads(objects):
        for container in civicgrid_containers(workload):
            env: dict[str, str] = {}
            for var in container["env"]:
                if "value" in var:
                    env[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m, known=env: known[m.group(1)], var["value"])
                elif "fieldRef" in var["valueFrom"]:
                    path = var["valueFrom"]["fieldRef"]["fieldPath"]
                    env[var["name"]] = "0" if "pod-index" in path else f"{workload['metadata']['name']}-0"
                else:
                    env[var["name"]] = "x" * 32  # a secretKeyRef
            env["CIVICGRID_CONFIG"] = str(toml)
            settings = load_settings_from(env, monkeypatch)
            assert settings.kafka.retention["cg.telemetry"].mb_per_partition == 2048
            assert settings.kafka.partitions == 12
            if container["args"][:2] == ["civicgrid", "gateway"]:
                assert settings.gateway.instance == 0 and settings.gateway.instances == 3
                assert settings.gateway.client_id == "city-civicgrid-gateway-a-0"


def test_prepare_job_runs_at_install_and_before_each_upgrade() -> None:
    install = named(render(), "Job", "city-civicgrid-prepare-1")
    assert "helm.sh/hook" not in install["metadata"].get("annotations", {})
    upgrade = [o for o in render("--is-upgrade") if o["kind"] == "Job"]
    assert len(upgrade) == 1
    assert upgrade[0]["metadata"]["annotations"]["helm.sh/hook"] == "pre-upgrade"
    (container,) = civicgrid_containers(install)
    assert container["args"] == ["civicgrid-deploy", "prepare"]


def test_mqtt_tls_and_api_tls_come_from_secret_references(objects: list[dict[str, Any]]) -> None:
    mosquitto = named(objects, "StatefulSet", "city-civicgrid-mosquitto")
    volumes = {v["name"]: v for v in mosquitto["spec"]["template"]["spec"]["volumes"]}
    assert volumes["mqtt-tls"]["secret"]["secretName"] == "civicgrid-mqtt-tls"
    exposed = named(objects, "Service", "city-civicgrid-mqtt-tls")
    # Only TLS faces the devices: MQTT over TLS, and MQTT over secure WebSockets for the handheld app.
    assert [p["port"] for p in exposed["spec"]["ports"]] == [8883, 8884]
    api = named(objects, "Deployment", "city-civicgrid-api")
    (container,) = civicgrid_containers(api)
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    ingress = named(objects, "Ingress", "city-civicgrid-api")
    assert ingress["spec"]["tls"][0]["secretName"] == "civicgrid-ingress-tls"


# ---------------------------------------------------------------------------------------------------- database
def test_the_database_init_creates_every_extension_the_migrations_need() -> None:
    """The application role is no superuser: every extension a migration creates must already exist, made by the
    init script of the TimescaleDB container (helm/civicgrid/files/timescaledb-init.sh, used by compose too)."""
    migrations = ROOT / "civicgrid" / "store" / "migrations"
    sql = "\n".join(p.read_text() for p in sorted(migrations.glob("*.sql")))
    needed = set(re.findall(r"CREATE EXTENSION IF NOT EXISTS (\w+)", sql, re.IGNORECASE))
    init = (CHART / "files" / "timescaledb-init.sh").read_text()
    assert needed <= set(re.findall(r"CREATE EXTENSION IF NOT EXISTS (\w+)", init)), needed
    # deploy/README.md ("Licence of the database image") says the migrations use no Timescale License feature.
    tsl = re.findall(r"compress|continuous|add_\w+_policy|add_job|timescaledb\.materialized_only", sql, re.IGNORECASE)
    assert not tsl, f"the migrations now use {sorted(set(tsl))}: say so in deploy/README.md and adjust this test"

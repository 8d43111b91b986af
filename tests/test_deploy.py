"""The deployment kit: compose files, Dockerfile, recording rules and the Helm chart, checked without Docker.

Fast and offline. The image itself is built and run by scripts/docker_check.sh (slow, needs root). The
recording rules on real data run in tests/test_examples.py (one Prometheus for all example rules).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pymongo import uri_parser

from librechat_metrics.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "examples" / "compose"
PROMETHEUS = ROOT / "examples" / "prometheus"
CHART = ROOT / "deploy" / "helm" / "librechat-metrics"
SEED = ["python", "-m", "librechat_metrics.demo", "--into", "mongodb://mongodb:27017/LibreChat"]
KNOWN_SETTINGS = {setting.env for setting in SETTINGS}
needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="scripts/services.sh installs it"
)


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def pinned(image: str) -> bool:
    """name:tag with a version in the tag (not latest/lts/stable), or name@sha256:digest."""
    if re.search(r"@sha256:[0-9a-f]{64}$", image):
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and bool(re.match(r"v?\d+(\.\d+)+", tag))


def host_path(volume: str) -> str | None:
    """The host side of a short-syntax bind mount, None for a named volume."""
    source = volume.split(":", 1)[0]
    return source if source.startswith((".", "/")) else None


# --- compose ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> dict:
    return load(COMPOSE / "docker-compose.yml")


@pytest.fixture(scope="module")
def sidecar() -> dict:
    return load(COMPOSE / "librechat-sidecar.yml")


def test_compose_files_suit_docker_compose_1_29(stack, sidecar):
    for document in (stack, sidecar):
        assert "name" not in document  # a top-level name: is rejected by Debian's docker-compose 1.29
        assert set(document) <= {"version", "services", "volumes", "networks", "x-image"}, set(document)


def test_every_image_is_pinned(stack, sidecar):
    for services in (stack["services"], sidecar["services"]):
        for name, service in services.items():
            assert "image" in service, name
            if "build" in service:  # built here from the Dockerfile, under a fixed local name
                assert not service["image"].endswith((":latest", ":lts")) and ":" in service["image"], name
            else:
                assert pinned(service["image"]), f"{name}: {service['image']}"
    assert not pinned("mariadb:lts") and not pinned("mongo") and not pinned("grafana/grafana:latest")
    assert pinned("mongo:8.0.20") and pinned("prom/prometheus:v3.5.0")


def test_every_compose_file_of_the_repository_pins_its_images():
    files = sorted({*ROOT.glob("*/docker-compose*.yml"), *COMPOSE.glob("*.yml")})
    assert len(files) >= 3, files
    for path in files:
        for name, service in load(path)["services"].items():
            if "image" in service and "build" not in service:
                assert pinned(service["image"]), f"{path.relative_to(ROOT)} {name}: {service['image']}"
            else:
                assert "build" in service, f"{path.relative_to(ROOT)} {name}: no image"


def test_every_referenced_file_exists(stack):
    checked = 0
    for name, service in stack["services"].items():
        if "build" in service:
            context = COMPOSE / service["build"]
            assert (context / "Dockerfile").is_file(), name
            checked += 1
        for volume in service.get("volumes", []):
            source = host_path(volume)
            if source is None:
                assert volume.split(":", 1)[0] in stack["volumes"], f"{name}: undeclared volume {volume}"
                continue
            assert (COMPOSE / source).exists(), f"{name}: {source} is missing"
            checked += 1
        for dependency in service.get("depends_on", []):
            assert dependency in stack["services"], f"{name} depends on unknown {dependency}"
    assert checked >= 10


def test_prometheus_gets_the_example_config_with_both_rule_files(stack):
    mounts = {
        Path(v.split(":")[1]).name: (COMPOSE / host_path(v)).resolve()
        for v in stack["services"]["prometheus"]["volumes"]
        if host_path(v)
    }
    config = load(PROMETHEUS / "prometheus.yml")
    assert mounts["prometheus.yml"] == PROMETHEUS / "prometheus.yml"
    assert set(config["rule_files"]) == {"alerts.yml", "recording.yml"}
    for rule_file in config["rule_files"]:
        assert mounts[rule_file] == PROMETHEUS / rule_file
    # The scrape target is the exporter's service, on the port it listens on.
    [target] = config["scrape_configs"][0]["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host in stack["services"]
    assert f"127.0.0.1:{port}:{port}" in stack["services"][host]["ports"]


def test_grafana_provisions_both_dashboards_and_their_datasources_by_uid(stack):
    grafana = stack["services"]["grafana"]
    mounts = {v.split(":")[1]: (COMPOSE / host_path(v)).resolve() for v in grafana["volumes"] if host_path(v)}
    datasources = load(mounts["/etc/grafana/provisioning/datasources/librechat.yml"])["datasources"]
    providers = load(mounts["/etc/grafana/provisioning/dashboards/librechat.yml"])["providers"]
    folder = providers[0]["options"]["path"]
    dashboards = {Path(t).name: path for t, path in mounts.items() if t.startswith(folder + "/")}
    assert dashboards == {
        "librechat-metrics.json": ROOT / "examples" / "grafana" / "librechat-metrics.json",
        "librechat-history.json": ROOT / "historic-analysis" / "Grafana-Dashboard-template.json",
    }
    by_uid = {ds["uid"]: ds for ds in datasources}
    assert [ds["isDefault"] for ds in datasources if ds.get("isDefault")] == [True]  # exactly one default
    # The live dashboard's datasource variable picks the default datasource of its type.
    live = json.loads(dashboards["librechat-metrics.json"].read_text())
    [variable] = [v for v in live["templating"]["list"] if v["type"] == "datasource"]
    [default] = [ds for ds in datasources if ds.get("isDefault")]
    assert default["type"] == variable["query"] == "prometheus"
    # The history dashboard's variable defaults to a uid that is provisioned, of the right type.
    history = json.loads(dashboards["librechat-history.json"].read_text())
    [variable] = [v for v in history["templating"]["list"] if v["type"] == "datasource"]
    assert by_uid[variable["current"]["value"]]["type"] == variable["query"] == "mysql"
    # Each datasource points at a service of the stack, with the credentials MariaDB was given.
    for ds in datasources:
        assert ds["url"].removeprefix("http://").split(":")[0] in stack["services"], ds["url"]
    mariadb = stack["services"]["mariadb"]["environment"]
    mysql = by_uid[variable["current"]["value"]]
    assert (mysql["user"], mysql["jsonData"]["database"]) == (
        mariadb["MARIADB_USER"],
        mariadb["MARIADB_DATABASE"],
    )
    assert grafana["environment"]["HISTORY_DB_PASSWORD"] == mariadb["MARIADB_PASSWORD"]
    assert grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] in {
        f"{folder}/{name}" for name in dashboards
    }


def test_seeder_live_writer_and_export_run_in_order_on_the_stack(stack):
    services = stack["services"]
    assert services["seed"]["command"][: len(SEED)] == SEED and "--live" not in services["seed"]["command"]
    assert services["live"]["command"][: len(SEED)] == SEED and "--live" in services["live"]["command"]
    # The live writer and the export wait for the seeded history; nothing exports a half-seeded day.
    for name in ("live", "export"):
        assert services[name]["depends_on"]["seed"] == {"condition": "service_completed_successfully"}
    export = services["export"]
    assert export["depends_on"]["mariadb"] == {"condition": "service_healthy"}
    assert "export_metrics.py --days" in export["command"][0]
    env = export["environment"]
    mariadb = services["mariadb"]["environment"]
    assert env["MYSQL_HOST"] in services
    assert (env["MYSQL_USER"], env["MYSQL_PASSWORD"], env["MYSQL_DATABASE"]) == (
        mariadb["MARIADB_USER"],
        mariadb["MARIADB_PASSWORD"],
        mariadb["MARIADB_DATABASE"],
    )


def test_exporter_settings_are_known_and_reach_the_stacks_mongodb(stack, sidecar):
    for services in (stack["services"], sidecar["services"]):
        env = services["librechat-metrics"]["environment"]
        assert set(env) <= KNOWN_SETTINGS, set(env) - KNOWN_SETTINGS
        uri = re.sub(r"\$\{[^}]*\}", "password", env["MONGODB_URI"])  # compose substitutes it
        assert uri_parser.parse_uri(uri)["nodelist"] == [("mongodb", 27017)], uri
        assert services["librechat-metrics"]["read_only"] is True
    assert "mongodb" in stack["services"]
    assert sidecar["services"]["librechat-metrics"]["depends_on"] == ["mongodb"]  # LibreChat's service


def test_sidecar_snippet_says_how_to_create_the_read_only_user():
    text = (COMPOSE / "librechat-sidecar.yml").read_text()
    assert 'roles: [{role: "read", db: "LibreChat"}]' in text and "createUser" in text
    assert "librechat_metrics:${LIBRECHAT_METRICS_MONGO_PASSWORD:?" in text  # refuses an empty password


# --- Dockerfile ---------------------------------------------------------------------------------------


def test_dockerfile_is_pinned_non_root_labelled_and_healthchecked():
    text = (ROOT / "Dockerfile").read_text()
    [base] = re.findall(r"^ARG BASE_IMAGE=(\S+)$", text, re.M)
    assert pinned(base), base
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    [user] = re.findall(r"^USER (\S+)$", text, re.M)
    assert user.split(":")[0] not in {"0", "root"}
    assert re.search(
        r'^HEALTHCHECK .*\n\s+CMD \["python", "-m", "librechat_metrics.healthcheck"\]', text, re.M
    )
    labels = set(re.findall(r"org\.opencontainers\.image\.(\w+)=", text))
    assert {"title", "description", "version", "revision"} <= labels
    assert re.search(r"tzdata==\d", text)  # legacy zone names (US/Eastern) whatever the base ships


def test_dockerignore_ships_the_package_with_the_demo_and_generator():
    ignored = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert ignored[0] == "*"
    assert {"!requirements.txt", "!metrics.py", "!export_metrics.py", "!librechat_metrics/"} <= set(ignored)
    assert not [line for line in ignored if "synthetic" in line or "demo" in line]


# --- recording rules ----------------------------------------------------------------------------------


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)


@needs_promtool
def test_recording_rules_are_valid_and_each_is_unit_tested():
    for args in (("check", "rules", "recording.yml"), ("test", "rules", "recording_test.yml")):
        result = promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr
    rules = [r["record"] for g in load(PROMETHEUS / "recording.yml")["groups"] for r in g["rules"]]
    tested = set(re.findall(r"^\s+- expr: (\S+)$", (PROMETHEUS / "recording_test.yml").read_text(), re.M))
    assert tested == set(rules)
    for name in rules:  # level:metric:operation
        assert re.fullmatch(r"(librechat|model):[a-z_]+:[a-z0-9_]+", name), name


def test_recording_rules_keep_ratios_between_0_and_1():
    for group in load(PROMETHEUS / "recording.yml")["groups"]:
        for rule in group["rules"]:
            if ":ratio" in rule["record"]:
                denominator = rule["expr"].split(" / ", 1)[1]
                assert denominator.endswith("> 0)"), rule  # no sample rather than a division by zero


# --- Helm chart ---------------------------------------------------------------------------------------


def test_chart_rules_are_the_example_rules():
    for name in ("alerts.yml", "recording.yml"):
        copy = CHART / "files" / name
        assert copy.read_text() == (PROMETHEUS / name).read_text(), f"cp examples/prometheus/{name} {copy}"


@pytest.fixture(scope="module")
def helm():
    return pytest.importorskip(
        "helm_python.chart", reason="helm-python-sdk (requirements-dev.txt) renders charts"
    )


def render(helm, **values) -> dict[str, dict]:
    """The chart rendered offline with `values`: {kind: manifest} (one of each kind)."""
    manifests = helm.Chart.load(str(CHART)).render(values, name="lc", namespace="monitoring")
    out: dict[str, dict] = {}
    for path, text in manifests.items():
        if path.endswith(".yaml"):
            for doc in yaml.safe_load_all(text):
                if doc:
                    assert doc["kind"] not in out, path
                    out[doc["kind"]] = doc
    return out


URI = "mongodb://librechat_metrics:secret@mongodb:27017/?authSource=admin"


def test_chart_lints_clean(helm):
    report = helm.lint(str(CHART), {"mongodb": {"uri": URI}}, strict=True)
    assert report["errors"] == [], report
    assert [m for m in report["messages"] if m["severity"] >= 2] == [], report


def test_chart_refuses_to_render_without_a_mongodb_uri(helm):
    with pytest.raises(Exception, match=r"set mongodb\.uri"):
        render(helm)


def test_chart_renders_a_locked_down_exporter(helm):
    kinds = render(helm, mongodb={"uri": URI})
    assert set(kinds) == {"Deployment", "Service", "Secret"}
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pinned(container["image"]), container["image"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    # Probes on the port the Service targets; readiness is "serves", not "every group succeeds" (/readyz):
    # one failing group must not take the exporter and its error counters out of the Service.
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    [port] = container["ports"]
    service = kinds["Service"]["spec"]
    assert service["ports"][0]["targetPort"] == port["name"] == container["livenessProbe"]["httpGet"]["port"]
    assert service["publishNotReadyAddresses"] is True  # an exporter without MongoDB is still scraped
    assert (
        service["selector"].items() <= kinds["Deployment"]["spec"]["template"]["metadata"]["labels"].items()
    )
    # The URI is in the Secret only, and the container reads it from there.
    env = {e["name"]: e for e in container["env"]}
    ref = env["MONGODB_URI"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == kinds["Secret"]["metadata"]["name"]
    assert kinds["Secret"]["stringData"][ref["key"]] == URI
    assert URI not in json.dumps(kinds["Deployment"])
    assert set(env) <= KNOWN_SETTINGS, set(env) - KNOWN_SETTINGS
    assert env["METRICS_PORT"]["value"] == str(port["containerPort"])


@pytest.mark.parametrize(
    ("name", "value", "use"),
    [
        ("METRICS_PORT", "9000", "service.port"),
        ("MONGODB_URI", URI, "mongodb.uri or mongodb.existingSecret"),
        ("MONGODB_DATABASE", "Other", "mongodb.database"),
    ],
)
def test_chart_refuses_env_keys_it_sets_itself(helm, name, value, use):
    with pytest.raises(Exception, match=rf"env\.{name}: the chart sets {name} itself; set {re.escape(use)}"):
        render(helm, mongodb={"uri": URI}, env={name: value})


def test_chart_env_renders_each_variable_once_and_leaves_null_unset(helm):
    kinds = render(helm, mongodb={"uri": URI}, env={"LOGGING_LEVEL": None, "METRICS_CACHE_TTL": 30})
    [container] = kinds["Deployment"]["spec"]["template"]["spec"]["containers"]
    names = [e["name"] for e in container["env"]]
    assert len(names) == len(set(names)), names
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert "LOGGING_LEVEL" not in env and env["METRICS_CACHE_TTL"] == "30" and env["TIMEZONE"] == "UTC"
    assert all(set(e) in ({"name", "value"}, {"name", "valueFrom"}) for e in container["env"])
    assert all(e["value"] is not None for e in container["env"] if "value" in e)
    with pytest.raises(Exception, match=r"env\.TIMEZONE: expected a string, number or boolean"):
        render(helm, mongodb={"uri": URI}, env={"TIMEZONE": {"zone": "UTC"}})


def test_chart_uses_an_existing_secret_when_named(helm):
    kinds = render(helm, mongodb={"existingSecret": "librechat-mongo", "existingSecretKey": "uri"})
    assert "Secret" not in kinds
    [container] = kinds["Deployment"]["spec"]["template"]["spec"]["containers"]
    [ref] = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if e["name"] == "MONGODB_URI"]
    assert ref == {"name": "librechat-mongo", "key": "uri"}


def test_chart_monitors_with_the_example_rules(helm):
    kinds = render(
        helm, mongodb={"uri": URI}, serviceMonitor={"enabled": True}, prometheusRule={"enabled": True}
    )
    monitor = kinds["ServiceMonitor"]["spec"]
    service = kinds["Service"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    # The alerts select job="librechat-metrics": the job label comes from the Service's jobLabel label.
    assert service["metadata"]["labels"][monitor["jobLabel"]] == "librechat-metrics"
    groups = load(PROMETHEUS / "alerts.yml")["groups"] + load(PROMETHEUS / "recording.yml")["groups"]
    assert kinds["PrometheusRule"]["spec"]["groups"] == groups

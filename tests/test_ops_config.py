"""Operator-facing configuration: metrics, alert rules, dashboard, LiveKit config, Dockerfile.

The alert rules are checked and unit-tested with promtool (Debian: `apt-get install -y prometheus`).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from hive_agent.observability.stage_health import DOWN_AFTER_FAILURES, FAILURE_WINDOW_S
from hive_agent.observability.telemetry import STAGES, Telemetry

pytestmark = pytest.mark.nomodels  # every test here runs without a model

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "ops" / "prometheus" / "hive-alerts.yml"
ALERT_TESTS = ROOT / "ops" / "prometheus" / "hive-alerts.test.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "hive-dashboard.json"
LIVEKIT_YAML = ROOT / "livekit.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

METRIC_NAME = re.compile(r"\bhive_[a-zA-Z0-9_]+\b")


# --- helpers ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found on PATH: install it with `apt-get install -y prometheus` "
                    "(Debian/Ubuntu) or from the Prometheus release tarball")
    return path


def run_promtool(promtool: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def samples(telemetry: Telemetry) -> dict[tuple[str, frozenset], float]:
    """Every sample of the exposition: (name, labels) -> value."""
    out = {}
    for family in text_string_to_metric_families(telemetry.exposition().decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def sample(telemetry: Telemetry, name: str, **labels: str) -> float | None:
    return samples(telemetry).get((name, frozenset(labels.items())))


@pytest.fixture(scope="module")
def registered_names() -> set[str]:
    """Series names a worker exposes once every kind of event has happened."""
    t = Telemetry()
    t.observe_caption_latency(0.2)
    t.observe_commit_latency(0.9)
    t.observe_ttft("es", 0.4)
    t.observe_end_to_end("es", 0.5)
    for stage in STAGES:
        t.observe_stage(stage, 0.05)
        t.stage_error(stage)
        t.set_queue_depth(stage, 1)
        t.set_stage_up(stage, True)
        t.set_model_info(stage, "m", "cpu", "int8")
    t.count_words(committed=10, retracted=1)
    t.shed("interim_decode")
    t.session_started("s1")
    t.set_lag("s1", 0.3)
    return {name for name, _ in samples(t)}


def dashboard_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # panels inside collapsed rows
    return panels


def dashboard_exprs(dashboard: dict) -> list[str]:
    exprs = [t["expr"] for p in dashboard_panels(dashboard) for t in p.get("targets", [])]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def alert_rules() -> list[dict]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


# --- Telemetry ----------------------------------------------------------------------------

def test_latencies_are_taken_in_seconds_and_stored_in_milliseconds():
    t = Telemetry()
    t.observe_caption_latency(0.2)
    t.observe_ttft("es", 0.48)
    assert sample(t, "hive_caption_latency_milliseconds_sum") == pytest.approx(200.0)
    assert sample(t, "hive_caption_latency_milliseconds_bucket", le="175.0") == 0
    assert sample(t, "hive_caption_latency_milliseconds_bucket", le="200.0") == 1
    assert sample(t, "hive_translation_ttft_milliseconds_bucket", lang="es", le="450.0") == 0
    assert sample(t, "hive_translation_ttft_milliseconds_bucket", lang="es", le="500.0") == 1


def test_each_telemetry_has_its_own_registry():
    a, b = Telemetry(), Telemetry()
    a.count_words(committed=3, retracted=0)
    assert sample(a, "hive_words_committed_total") == 3
    assert sample(b, "hive_words_committed_total") == 0


def test_retraction_ratio_is_retracted_over_committed_since_start():
    t = Telemetry()
    assert sample(t, "hive_word_retraction_ratio") == 0
    t.count_words(committed=0, retracted=2)
    assert sample(t, "hive_word_retraction_ratio") == 0  # undefined until a word is committed
    t.count_words(committed=10, retracted=0)
    t.count_words(committed=30, retracted=2)
    assert sample(t, "hive_word_retraction_ratio") == pytest.approx(4 / 40)
    assert sample(t, "hive_words_retracted_total") == 4
    with pytest.raises(ValueError, match="committed=-1"):
        t.count_words(committed=-1, retracted=0)


def test_stage_errors_count_as_requests_and_unknown_stages_are_rejected():
    t = Telemetry()
    assert sample(t, "hive_stage_requests_total", stage="tts") == 0  # exists before any request
    t.observe_stage("stt", 0.18)
    t.observe_stage("stt", 0.2)
    t.stage_error("stt")
    assert sample(t, "hive_stage_requests_total", stage="stt") == 3
    assert sample(t, "hive_stage_errors_total", stage="stt") == 1
    assert sample(t, "hive_stage_processing_milliseconds_count", stage="stt") == 2
    assert sample(t, "hive_stage_processing_milliseconds_sum", stage="stt") == pytest.approx(380.0)
    with pytest.raises(ValueError, match="unknown stage 'asr'.*stt, mt, tts"):
        t.observe_stage("asr", 0.1)


def test_sessions_and_lag_series_follow_session_lifetime():
    t = Telemetry()
    t.session_started("room-a/alice")
    t.session_started("room-a/bob")
    t.session_started("room-a/bob")  # a repeated start is the same session
    t.set_lag("room-a/alice", 0.4)
    t.set_lag("room-a/bob", 1.5)
    assert sample(t, "hive_concurrent_translation_sessions") == 2
    assert sample(t, "hive_lag_behind_realtime_seconds", session="room-a/bob") == 1.5

    t.session_ended("room-a/bob")
    assert sample(t, "hive_concurrent_translation_sessions") == 1
    assert sample(t, "hive_lag_behind_realtime_seconds", session="room-a/bob") is None
    assert sample(t, "hive_lag_behind_realtime_seconds", session="room-a/alice") == 0.4
    t.session_ended("never-started")
    assert sample(t, "hive_concurrent_translation_sessions") == 1


def test_stage_health_model_info_queue_and_shed_work():
    t = Telemetry()
    t.set_stage_up("mt", True)
    t.set_stage_up("tts", False)
    t.set_queue_depth("mt", 4)
    t.shed("interim_decode")
    t.shed("interim_decode")
    t.set_model_info("stt", "tiny.en", "cpu", "int8")
    t.set_model_info("stt", "base", "cuda", "float16")
    assert sample(t, "hive_stage_up", stage="mt") == 1
    assert sample(t, "hive_stage_up", stage="tts") == 0
    assert sample(t, "hive_stage_queue_depth", stage="mt") == 4
    assert sample(t, "hive_shed_work_total", kind="interim_decode") == 2
    info = {labels: v for (name, labels), v in samples(t).items() if name == "hive_model_info"}
    assert info == {frozenset({"stage": "stt", "model": "base", "device": "cuda",
                               "compute_type": "float16"}.items()): 1}
    assert t.content_type.startswith("text/plain")


def test_metrics_doc_lists_every_metric(registered_names):
    doc = (ROOT / "docs" / "metrics.md").read_text()
    families = {re.sub(r"_(bucket|sum|count)$", "", n)
                for n in registered_names if not n.endswith("_created")}
    missing = sorted(n for n in families if f"`{n}`" not in doc)
    assert not missing, f"docs/metrics.md does not document {missing}"


# --- Prometheus alert rules ---------------------------------------------------------------

def test_promtool_check_rules(promtool):
    result = run_promtool(promtool, "check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_rule_unit_tests(promtool):
    result = run_promtool(promtool, "test", "rules", ALERT_TESTS.name, cwd=ALERT_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_firing_and_silent():
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    for rule in alert_rules():
        own = [c for c in cases if c["alertname"] == rule["alert"]]
        assert any(c["exp_alerts"] for c in own), f"{rule['alert']} never expected to fire"
        assert any(not c["exp_alerts"] for c in own), \
            f"{rule['alert']} has no case where it must stay silent"


def test_runbook_alerts_are_present_with_severity_and_text():
    rules = {rule["alert"]: rule for rule in alert_rules()}
    expected = {
        "HiveTranslationTTFTHigh": ("hive_translation_ttft_milliseconds_bucket", "2m", "> 500"),
        "HiveCaptionLatencyHigh": ("hive_caption_latency_milliseconds_bucket", "5m", "> 300"),
        "HiveStageDown": ("hive_stage_up", "1m", "== 0"),
        "HiveStageErrorRateHigh": ("hive_stage_errors_total", "5m", "> 0.05"),
    }
    for name, (metric, duration, comparison) in expected.items():
        rule = rules[name]
        assert metric in rule["expr"] and comparison in rule["expr"], name
        assert rule["for"] == duration, name
    for rule in rules.values():
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"] and len(rule["annotations"]["description"]) > 80


def test_stage_down_rule_is_described_with_the_numbers_the_worker_uses():
    rule = f"{DOWN_AFTER_FAILURES} failed calls within {FAILURE_WINDOW_S:g} s"
    stage_down = next(r for r in alert_rules() if r["alert"] == "HiveStageDown")
    assert rule in " ".join(stage_down["annotations"]["description"].split())
    assert rule in (ROOT / "docs" / "metrics.md").read_text()


def test_alert_expressions_use_registered_metrics(registered_names):
    for rule in alert_rules():
        names = set(METRIC_NAME.findall(rule["expr"]))
        assert names, rule["alert"]
        assert names <= registered_names, f"{rule['alert']}: unknown {names - registered_names}"


def test_panels_named_in_alert_descriptions_exist(dashboard):
    titles = {p["title"] for p in dashboard_panels(dashboard)}
    for rule in alert_rules():
        for quoted in re.findall(r'"([A-Z][^"]+)"', rule["annotations"]["description"]):
            assert quoted in titles, f"{rule['alert']} points operators at missing panel {quoted!r}"


# --- Grafana dashboard --------------------------------------------------------------------

def test_dashboard_is_importable_with_a_prometheus_input(dashboard):
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["uid"] and dashboard["title"]
    inputs = {i["name"]: i for i in dashboard["__inputs"]}
    assert inputs["DS_PROMETHEUS"]["pluginId"] == "prometheus"
    ids = [p["id"] for p in dashboard_panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard_panels(dashboard):
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
            assert panel["targets"], panel["title"]


def test_dashboard_queries_use_only_registered_metrics(dashboard, registered_names):
    for expr in dashboard_exprs(dashboard):
        names = set(METRIC_NAME.findall(expr))
        assert names, f"query references no HIVE metric: {expr}"
        assert names <= registered_names, f"unknown metrics {names - registered_names} in {expr}"


def test_dashboard_queries_are_valid_promql(dashboard, promtool, tmp_path):
    rules = [{"record": f"dashboard:query_{i}", "expr": expr.replace("$instance", ".*")}
             for i, expr in enumerate(dashboard_exprs(dashboard)) if "label_values(" not in expr]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def _panel_using(dashboard: dict, metric: str, must_contain: str = "") -> dict:
    for panel in dashboard_panels(dashboard):
        exprs = [t["expr"] for t in panel.get("targets", [])]
        if any(metric in e and must_contain in e for e in exprs):
            return panel
    raise AssertionError(f"no panel queries {metric} {must_contain}".strip())


def _threshold_values(panel: dict) -> set[float]:
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return {s["value"] for s in steps if s["value"] is not None}


@pytest.mark.parametrize("metric, unit, thresholds", [
    ("hive_caption_latency_milliseconds_bucket", "ms", {250, 300}),
    ("hive_translation_ttft_milliseconds_bucket", "ms", {450, 500}),
    ("hive_end_to_end_latency_milliseconds_bucket", "ms", {500, 600}),
    ("hive_words_retracted_total", "percentunit", {0.05, 0.08}),
])
def test_slo_panels_show_p95_with_slo_thresholds(dashboard, metric, unit, thresholds):
    panel = _panel_using(dashboard, metric, "histogram_quantile(0.95" if "bucket" in metric else "")
    assert panel["fieldConfig"]["defaults"]["unit"] == unit
    assert _threshold_values(panel) == thresholds


@pytest.mark.parametrize("metric", [
    "hive_concurrent_translation_sessions", "hive_lag_behind_realtime_seconds",
    "hive_stage_errors_total", "hive_stage_queue_depth", "hive_shed_work_total",
    "hive_stage_processing_milliseconds_bucket", "hive_stage_up",
])
def test_operational_panels_exist(dashboard, metric):
    _panel_using(dashboard, metric)


# --- LiveKit server config ----------------------------------------------------------------

def test_livekit_yaml_has_ports_keys_and_turn():
    config = yaml.safe_load(LIVEKIT_YAML.read_text())
    assert config["port"] == 7880
    rtc = config["rtc"]
    assert rtc["tcp_port"] == 7881
    assert 1024 < rtc["port_range_start"] < rtc["port_range_end"] <= 65535
    assert isinstance(config["keys"], dict) and len(config["keys"]) == 1
    turn = config["turn"]
    assert turn["enabled"] is True
    assert turn["domain"] and isinstance(turn["tls_port"], int) and isinstance(turn["udp_port"], int)
    text = LIVEKIT_YAML.read_text()
    assert "livekit-server generate-keys" in text
    assert "turn_servers:" in text and "lt-cred-mech" in text  # the external coturn recipe


# --- Docker image -------------------------------------------------------------------------

def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_docker_build_context_contains_what_the_dockerfile_copies():
    ignored = [p.strip().rstrip("/") for p in DOCKERIGNORE.read_text().splitlines()
               if p.strip() and not p.startswith("#")]
    copies = [args.split()[:-1] for op, args in _dockerfile_instructions() if op == "COPY"]
    assert copies
    for sources in copies:
        for source in sources:
            source = source.rstrip("/")
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), \
                f"{source} is excluded by .dockerignore"
    for secret in (".env", ".venv", ".git", "models"):
        assert secret in ignored


def test_dockerfile_runs_unprivileged_and_health_checks_the_exposed_port():
    instructions = _dockerfile_instructions()
    ops = dict(instructions)
    assert ops["FROM"] == "python:3.11-slim"
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1] not in {"root", "0"}
    port = ops["EXPOSE"]
    assert f"'{port}'" in ops["HEALTHCHECK"] and "/health" in ops["HEALTHCHECK"]
    assert json.loads(ops["CMD"]) == ["python", "-m", "hive_agent", "start"]
    runs = [args for op, args in instructions if op == "RUN"]
    assert any("hive_agent models prepare" in r for r in runs)

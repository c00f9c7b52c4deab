"""Config generation for `make serve`: HAProxy and supervisord files from explorer/serving/."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

from explorer import serving


def _cfg(tmp_path: Path, **over) -> serving.ServeConfig:
    base = dict(port=8501, replicas=3, run_dir=tmp_path / "serve", runs_dir=tmp_path / "runs",
                python="/venv/bin/python", cwd=tmp_path, haproxy="/usr/sbin/haproxy")
    return serving.ServeConfig(**{**base, **over})


def _supervisord(cfg: serving.ServeConfig) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read_string(serving.render_supervisord(cfg, "s3cret"))
    return parser


def test_backend_ports_default_to_the_ports_after_the_public_one(tmp_path):
    assert _cfg(tmp_path).ports() == (8502, 8503, 8504)
    assert _cfg(tmp_path, replicas=2, backend_ports=(9001, 9005)).ports() == (9001, 9005)


@pytest.mark.parametrize("over", [
    {"replicas": 0},
    {"replicas": 2, "backend_ports": (9001,)},
    {"replicas": 2, "backend_ports": (8501, 9001)},
    {"replicas": 2, "backend_ports": (9001, 9001)},
    {"port": 70000},
])
def test_bad_port_layouts_are_refused(tmp_path, over):
    with pytest.raises(ValueError):
        _cfg(tmp_path, **over).ports()


def test_haproxy_is_sticky_by_cookie_health_checked_and_lists_every_replica(tmp_path):
    text = serving.render_haproxy(_cfg(tmp_path, bind="127.0.0.1"))
    lines = [line.strip() for line in text.splitlines()]
    assert "bind 127.0.0.1:8501" in lines
    assert f"cookie {serving.COOKIE_NAME} insert indirect nocache httponly" in lines
    assert "option httpchk GET /_stcore/health" in lines
    assert "option redispatch" in lines
    assert "balance leastconn" in lines
    assert not any(line.startswith("balance source") or "src" in line.split() for line in lines)
    servers = [line for line in lines if line.startswith("server ")]
    assert servers == [f"server streamlit-{i} 127.0.0.1:{8501 + i} cookie streamlit-{i}"
                       for i in (1, 2, 3)]
    assert "$" not in text, "every template placeholder is filled"


def test_supervisord_runs_haproxy_and_every_replica_with_the_same_environment(tmp_path):
    cfg = _cfg(tmp_path)
    conf = _supervisord(cfg)
    assert conf.get("supervisord", "nodaemon") == "true"
    assert conf.get("program:haproxy", "command") == (
        f"/usr/sbin/haproxy -db -f {cfg.run_dir.resolve()}/haproxy.cfg")
    assert conf.get("group:streamlit", "programs") == "streamlit-1,streamlit-2,streamlit-3"
    for i, port in enumerate(cfg.ports(), start=1):
        section = f"program:streamlit-{i}"
        command = conf.get(section, "command").split()
        assert command[:5] == ["/venv/bin/python", "-m", "streamlit", "run", "explorer/app.py"]
        flags = dict(zip(command[5::2], command[6::2], strict=True))
        assert flags == {"--server.headless": "true", "--server.address": "127.0.0.1",
                         "--server.port": str(port), "--server.fileWatcherType": "none",
                         "--browser.gatherUsageStats": "false"}
        assert conf.get(section, "autorestart") == "true"
        assert conf.get(section, "stopasgroup") == "true"
        env = conf.get(section, "environment")
        assert f'EXPLORER_RUNS_DIR="{(tmp_path / "runs").resolve()}"' in env
        assert 'STREAMLIT_SERVER_COOKIE_SECRET="s3cret"' in env
        assert f'OMP_NUM_THREADS="{cfg.threads()}"' in env
        assert 'MALLOC_ARENA_MAX="2"' in env
    assert "$" not in serving.render_supervisord(cfg, "s3cret")


def test_the_store_is_prepared_once_at_start_unless_asked_not_to(tmp_path):
    cfg = _cfg(tmp_path)
    conf = _supervisord(cfg)
    assert conf.get("program:prepare", "command") == "/venv/bin/python -m explorer.serving.prepare"
    assert conf.get("program:prepare", "autorestart") == "false"  # it exits when done
    assert conf.get("program:prepare", "startsecs") == "0"  # a quick exit is a success
    env = conf.get("program:prepare", "environment")
    assert f'EXPLORER_RUNS_DIR="{(tmp_path / "runs").resolve()}"' in env  # the replicas' store
    assert 'OMP_NUM_THREADS="1"' in env
    assert not _supervisord(_cfg(tmp_path, prepare=False)).has_section("program:prepare")
    assert "$" not in serving.render_supervisord(_cfg(tmp_path, prepare=False), "s3cret")


def test_replicas_share_the_cores_out_as_torch_threads(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert [_cfg(tmp_path, replicas=n).threads() for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    assert _cfg(tmp_path, replicas=2, torch_threads=3).threads() == 3


def test_percent_signs_stay_literal_for_supervisord_and_quotes_are_refused(tmp_path):
    conf = _supervisord(_cfg(tmp_path, runs_dir=tmp_path / "100%runs"))
    assert "100%%runs" in conf.get("program:streamlit-1", "environment")
    with pytest.raises(ValueError):
        serving.render_supervisord(_cfg(tmp_path, runs_dir=tmp_path / 'a"b'), "x")
    with pytest.raises(ValueError):
        serving.render_haproxy(_cfg(tmp_path, bind="0.0.0.0\n    server evil 1.2.3.4:80"))


def test_write_keeps_one_private_cookie_secret_across_restarts(tmp_path):
    cfg = _cfg(tmp_path)
    paths = serving.write(cfg)
    assert paths["haproxy"].read_text() == serving.render_haproxy(cfg)
    secret = (cfg.run_dir / "cookie_secret").read_text().strip()
    assert len(secret) == 64
    assert (cfg.run_dir / "cookie_secret").stat().st_mode & 0o077 == 0
    serving.write(cfg)
    assert (cfg.run_dir / "cookie_secret").read_text().strip() == secret
    assert secret in paths["supervisord"].read_text()
    assert (tmp_path / "runs").is_dir()


@pytest.mark.skipif(not serving.find_binary("haproxy"), reason="haproxy not installed")
def test_haproxy_accepts_the_generated_config(tmp_path):
    cfg = _cfg(tmp_path, haproxy=serving.find_binary("haproxy"))
    path = serving.write(cfg)["haproxy"]
    check = subprocess.run([cfg.haproxy, "-c", "-f", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_module_is_plain_python():
    code = "import sys, explorer.serving; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_writes_the_configs(tmp_path):
    if not (serving.find_binary("haproxy") and serving.find_binary("supervisord")):
        pytest.skip("haproxy / supervisord not installed (make serve-tools)")
    out = subprocess.run(
        [sys.executable, "-m", "explorer.serving", "--port", "9100", "--replicas", "2",
         "--run-dir", str(tmp_path), "--no-prepare"], capture_output=True, text=True,
        check=True,
        env={**os.environ, "EXPLORER_RUNS_DIR": str(tmp_path / "runs")}).stdout
    assert "9101, 9102" in out
    assert (tmp_path / "supervisord.conf").exists() and (tmp_path / "haproxy.cfg").exists()
    conf = (tmp_path / "supervisord.conf").read_text()
    assert f'EXPLORER_RUNS_DIR="{tmp_path / "runs"}"' in conf
    assert "[program:prepare]" not in conf

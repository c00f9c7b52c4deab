"""`make gpu-check` (bench/gpu.py): its --smoke run on the CPU, without the web app's packages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ("streamlit", "plotly", "babel", "pandas")
# A bare GPU machine has torch and torchvision only: make the web packages unimportable.
BLOCK = f"import sys\nfor name in {WEB!r}:\n    sys.modules[name] = None\n"


def _python(code: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_the_engine_imports_without_the_web_packages():
    done = _python("import explorer.training.engine, explorer.training.worker, "
                   "explorer.training.presets\n"
                   f"loaded = [m for m in sys.modules if m.split('.')[0] in {WEB!r} "
                   "and sys.modules[m] is not None]\n"
                   "assert not loaded, loaded\n")
    assert done.returncode == 0, done.stderr


def test_the_smoke_run_writes_every_figure(tmp_path):
    out = tmp_path / "gpu-check"
    done = _python("import runpy\nsys.argv = ['bench/gpu.py', *sys.argv[1:]]\n"
                   "runpy.run_path('bench/gpu.py', run_name='__main__')\n",
                   "--smoke", "--out", str(out))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((out / "gpu-check.json").read_text())
    assert report["smoke"] and report["device"]["device"] == "cpu"
    lenet = report["lenet5"]
    assert lenet["state"] == "finished" and 0 <= lenet["test_acc"] <= 1
    assert lenet["engine_images_per_s"] > 0 and lenet["bare_eager_images_per_s"] > 0
    for key in ("resnet18", "airbench"):
        rows = report[key]["rows"]
        assert {r["precision"] for r in rows} == {"fp32", "bf16"}
        assert all(r["images_per_s"] > 0 for r in rows), rows
        assert report[key]["gflops_per_image_fwd_bwd"] > 0
    assert report["resnet18"]["gflops_per_image_fwd_bwd"] > report["airbench"][
        "gflops_per_image_fwd_bwd"] / 10
    assert report["ddp"] == {**report["ddp"], "backend": "gloo", "ok": True}
    assert "skipped" in report["airbench_94"]
    assert "| LeNet-5, mnist-mini |" in (out / "gpu-check.md").read_text()


def test_the_peak_table_tells_the_h100s_apart():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import gpu
    finally:
        sys.path.remove(str(ROOT / "bench"))
    assert gpu.peak_for("NVIDIA H100 80GB HBM3")[0] == "H100"
    assert gpu.peak_for("NVIDIA H100 PCIe")[0] == "H100 PCIe"
    assert gpu.peak_for("NVIDIA H200")[1] == 989.4
    assert gpu.peak_for("NVIDIA A100-SXM4-40GB")[0] == "A100"
    assert gpu.peak_for("NVIDIA L4")[0] == "L4" and gpu.peak_for("NVIDIA L40S") is None
    assert gpu.peak_for("Tesla T4") is None

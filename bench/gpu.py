"""The GPU check: what the training engine gets out of this machine's accelerator, in one command.

    python bench/gpu.py [--out build/gpu-check] [--smoke]      (make gpu-check)

Needs only Python, torch and torchvision (no network, no pip, none of the web app's packages):
it imports the engine and the zoo from this checkout. It measures, in this order,

1. the device: name, driver, CUDA and torch versions, the chip's published peak FLOP/s;
2. LeNet-5 on mnist-mini: the engine's training images/s (3 epochs, its own figure per epoch)
   beside a bare loop's in the same process (the same model, optimiser and batches over
   tensors already normalised on the device; eager, and compiled as the engine compiles),
   and the engine's test accuracy after the 3 epochs;
3. ResNet-18 (the zoo's CIFAR variant) at 32×32 on random CIFAR-shaped tensors: training
   images/s in fp32 and bf16 autocast, eager and compiled, and MFU = achieved FLOP/s ÷ the
   chip's peak, with the FLOPs of one image's forward + backward counted by
   `torch.utils.flop_counter.FlopCounterMode`;
4. the airbench-style network (the zoo's `airbench`, after Keller Jordan's airbench94):
   training images/s the same way, and when CIFAR-10 is on the machine the time the engine
   takes with `explorer.training.presets.AIRBENCH` to 94% test accuracy;
5. a DistributedDataParallel smoke run with one process (NCCL on CUDA, gloo on the CPU).

It prints each figure as it goes and writes `gpu-check.json` and `gpu-check.md` (a table)
into `--out`. `--smoke` runs the same code on the CPU with tiny sizes in seconds (and skips
compilation, which takes minutes on a CPU): `make test` runs it so (tests/test_gpu_check.py).
Sized to finish in under 8 minutes on an H100 or H200, most of it compiling.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # a bare machine has the checkout, not an installed package

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from explorer.models import zoo  # noqa: E402
from explorer.training import datasets, engine, presets, runs  # noqa: E402
from explorer.training.config import TrainConfig  # noqa: E402

#: Dense (no sparsity) tensor-core peaks in TFLOP/s from the vendor's data sheets: bf16, and
#: TF32, which cuDNN's float32 convolutions use by default. Matched in this order by name.
PEAKS_TFLOPS: list[tuple[str, float, float]] = [
    ("H200", 989.4, 494.7),
    ("H100 PCIe", 756.0, 378.0),
    ("H100", 989.4, 494.7),  # SXM
    ("A100", 312.0, 156.0),
    ("L4", 121.0, 60.0),
]


@dataclass(frozen=True)
class Sizes:
    """How much each measurement does: the full check, or `--smoke` on a CPU."""

    lenet_epochs: int = 3
    lenet_train_limit: int = 0  # 0: all 8,000 images
    lenet_test_limit: int = 0
    net_batch: int = 512
    warmup_steps: int = 10
    timed_steps: int = 30
    compile: bool = True
    ddp_steps: int = 20


FULL = Sizes()
SMOKE = Sizes(lenet_epochs=1, lenet_train_limit=512, lenet_test_limit=256, net_batch=4,
              warmup_steps=1, timed_steps=2, compile=False, ddp_steps=2)


def peak_for(name: str) -> tuple[str, float, float] | None:
    """(table row, bf16 TFLOP/s, TF32 TFLOP/s) of a device name, None when not in the table."""
    words = set(re.split(r"[\s-]+", name))
    for key, bf16, tf32 in PEAKS_TFLOPS:
        if set(key.split()) <= words:
            return key, bf16, tf32
    return None


def device_info(dev: torch.device) -> dict[str, Any]:
    """Name, driver, versions and the chip's peak FLOP/s, when it is one of the table's."""
    info: dict[str, Any] = {"device": str(dev), "torch": torch.__version__,
                            "python": platform.python_version(), "cuda": torch.version.cuda}
    if dev.type != "cuda":
        info["name"] = platform.processor() or platform.machine()
        info["threads"] = torch.get_num_threads()
        return info
    props = torch.cuda.get_device_properties(dev)
    info.update(name=props.name, memory_gib=round(props.total_memory / 2**30, 1),
                capability=f"{props.major}.{props.minor}", sms=props.multi_processor_count)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader",
                              f"--id={dev.index or 0}"], capture_output=True, text=True,
                             timeout=20, check=True).stdout.strip()
        info["driver"] = out
    peak = peak_for(props.name)
    if peak is not None:
        info["peak_row"], info["peak_bf16_tflops"], info["peak_tf32_tflops"] = peak
    return info


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _autocast(dev: torch.device, bf16: bool):
    if bf16:
        return torch.autocast(dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def make_step(model: nn.Module, optimizer: torch.optim.Optimizer, dev: torch.device, bf16: bool,
              compiled: bool, mode: str = "default") -> Callable[[torch.Tensor, torch.Tensor],
                                                              None]:
    """One training step (fwd, loss, bwd, fused optimiser step) of a bare loop."""
    loss_fn = nn.CrossEntropyLoss()
    forward = torch.compile(model, mode=mode) if compiled else model
    graphs = compiled and mode == "reduce-overhead"

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        if graphs:
            torch.compiler.cudagraph_mark_step_begin()
        with _autocast(dev, bf16):
            logits = forward(x)
        loss = loss_fn(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def images_per_s(step: Callable[[torch.Tensor, torch.Tensor], None], batches: list[tuple],
                 dev: torch.device, warmup: int, timed: int) -> tuple[float, float]:
    """(steady-state training images/s, seconds of warm-up, compilation included)."""
    t0 = time.perf_counter()
    for i in range(warmup):
        step(*batches[i % len(batches)])
    _sync(dev)
    warm_s = time.perf_counter() - t0
    start = time.perf_counter()
    images = 0
    for i in range(timed):
        x, y = batches[i % len(batches)]
        step(x, y)
        images += len(y)
    _sync(dev)
    return images / (time.perf_counter() - start), warm_s


def flops_per_image(model: nn.Module, x: torch.Tensor) -> float:
    """FLOPs of one image's forward + backward (FlopCounterMode on a batch, ÷ its size)."""
    counter = FlopCounterMode(display=False)
    with counter:
        model(x).float().sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(x)


def lenet(dev: torch.device, sizes: Sizes, runs_dir: Path) -> dict[str, Any]:
    """The engine on mnist-mini beside a bare loop in the same process."""
    config = TrainConfig(model="lenet5", dataset="mnist-mini", epochs=sizes.lenet_epochs,
                         batch_size=128, optimizer="adamw", lr=3e-3, schedule="onecycle",
                         device=dev.type, train_limit=sizes.lenet_train_limit,
                         test_limit=sizes.lenet_test_limit,
                         compile="auto" if sizes.compile else "off")
    run_dir = engine.prepare_run(config, runs_dir, owner="gpu-check")
    status = engine.train(run_dir)
    epochs = [m for m in runs.read_metrics(run_dir) if m["kind"] == "epoch"]
    result: dict[str, Any] = {
        "state": status["state"], "reason": status.get("reason", ""),
        "engine_images_per_s_by_epoch": [round(e["images_per_s"]) for e in epochs],
        "test_acc": status.get("test_acc"), "epochs": sizes.lenet_epochs,
        "compile_s": status.get("compile_s"), "note": status.get("note", ""),
    }
    # the engine's steady state: its last epoch (the first one includes the graphs' capture)
    result["engine_images_per_s"] = epochs[-1]["images_per_s"] if epochs else None
    data = datasets.load("mnist-mini")
    keep = engine.subset(len(data.train_y), config.train_limit, config.seed)
    x = ((data.train_x[keep].float() / 255 - data.mean[0]) / data.std[0]).to(dev)
    y = data.train_y[keep].to(dev)
    cl = dev.type == "cuda"
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)
    batches = [(x[i:i + 128], y[i:i + 128]) for i in range(0, len(y) - 127, 128)]
    kinds = [("eager", False, "default")]
    if sizes.compile and engine.use_compile(config, dev):
        kinds.append(("compiled", True, engine.compile_mode(dev, 1)))
    for label, compiled, mode in kinds:
        model = zoo.build_seeded("lenet5", seed=0).to(dev)
        if cl:
            model = model.to(memory_format=torch.channels_last)
        optimizer = engine.make_optimizer(model, config)
        step = make_step(model, optimizer, dev, bf16=cl and config.amp, compiled=compiled,
                         mode=mode)
        ips, _ = images_per_s(step, batches, dev, sizes.warmup_steps + 3 * compiled,
                              max(sizes.timed_steps, len(batches)))
        result[f"bare_{label}_images_per_s"] = ips
    bare = max(v for k, v in result.items() if k.startswith("bare_"))
    if result["engine_images_per_s"]:
        result["engine_vs_bare"] = result["engine_images_per_s"] / bare
    return result


def network(key: str, dev: torch.device, sizes: Sizes, peak: dict[str, Any]) -> dict[str, Any]:
    """Training images/s of a zoo network on random CIFAR-shaped tensors; MFU where known."""
    torch.manual_seed(0)
    n = sizes.net_batch
    batches = [(torch.randn(n, 3, 32, 32, device=dev), torch.randint(0, 10, (n,), device=dev))
               for _ in range(4)]
    cl = dev.type == "cuda"
    if cl:
        batches = [(x.contiguous(memory_format=torch.channels_last), y) for x, y in batches]
    probe = zoo.build_model(key, variant="cifar").to(dev)
    flops = flops_per_image(probe, batches[0][0][:2])
    del probe
    result: dict[str, Any] = {"batch": n, "gflops_per_image_fwd_bwd": flops / 1e9, "rows": []}
    for bf16 in (False, True):
        for compiled in ((False, True) if sizes.compile else (False,)):
            model = zoo.build_seeded(key, seed=0, variant="cifar").to(dev)
            if cl:
                model = model.to(memory_format=torch.channels_last)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                                        fused=dev.type in ("cuda", "cpu"))
            step = make_step(model, optimizer, dev, bf16, compiled,
                             engine.compile_mode(dev, 1) if compiled else "default")
            row: dict[str, Any] = {"precision": "bf16" if bf16 else "fp32",
                                   "compiled": compiled}
            try:
                ips, warm_s = images_per_s(step, batches, dev, sizes.warmup_steps,
                                           sizes.timed_steps)
            except Exception as err:  # a compiler that fails here: say so, measure the rest
                row["error"] = f"{type(err).__name__}: {err}"[:300]
            else:
                row.update(images_per_s=ips, warmup_s=warm_s,
                           tflops=ips * flops / 1e12)
                chip = peak.get("peak_bf16_tflops" if bf16 else "peak_tf32_tflops")
                if chip:
                    row["mfu"] = row["tflops"] / chip
            result["rows"].append(row)
            print(f"  {key} {row['precision']} {'compiled' if compiled else 'eager'}: "
                  + (f"{row['images_per_s']:,.0f} images/s, {row['tflops']:.1f} TFLOP/s"
                     + (f", MFU {row['mfu']:.1%}" if "mfu" in row else "")
                     if "images_per_s" in row else row["error"]), flush=True)
            del model, optimizer, step
            if dev.type == "cuda":
                torch.cuda.empty_cache()
    return result


def airbench_time_to_94(dev: torch.device, runs_dir: Path) -> dict[str, Any]:
    """The preset on CIFAR-10, when it is on the machine: seconds until 94% test accuracy."""
    if not datasets.is_available("cifar10"):
        return {"skipped": "CIFAR-10 is not on this machine (data/ or $EXPLORER_DATA_DIR)"}
    config = presets.AIRBENCH
    if dev.type != "cuda":
        return {"skipped": "the preset is timed on a GPU only"}
    run_dir = engine.prepare_run(config, runs_dir, owner="gpu-check")
    status = engine.train(run_dir)
    epochs = [m for m in runs.read_metrics(run_dir) if m["kind"] == "epoch"]
    # time_s: since the run began (compilation and each epoch's test pass included)
    reached = next(({"epoch": e["epoch"], "wall_s": e["time_s"]} for e in epochs
                    if e["test_acc"] >= 0.94), None)
    return {"state": status["state"], "test_acc_by_epoch": [e["test_acc"] for e in epochs],
            "compile_s": status.get("compile_s"), "reached_94": reached}


def ddp_smoke(dev: torch.device, sizes: Sizes) -> dict[str, Any]:
    """One-process DistributedDataParallel: a few steps and an all-reduce, NCCL or gloo."""
    backend = "nccl" if dev.type == "cuda" else "gloo"
    t0 = time.perf_counter()
    # a file store, not a TCP port: a port found free can be taken before the store binds it
    rendezvous = Path(tempfile.mkdtemp(prefix="gpu-check-ddp-")) / "store"
    dist.init_process_group(backend, init_method=f"file://{rendezvous}", rank=0,
                            world_size=1, timeout=datetime.timedelta(minutes=2))
    try:
        model = nn.parallel.DistributedDataParallel(
            zoo.build_seeded("lenet5", seed=0).to(dev),
            device_ids=[dev.index or 0] if dev.type == "cuda" else None)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        x = torch.randn(64, 1, 28, 28, device=dev)
        y = torch.randint(0, 10, (64,), device=dev)
        losses = []
        for _ in range(sizes.ddp_steps):
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        total = torch.ones(1, device=dev)
        dist.all_reduce(total)
        values = torch.stack(losses).tolist()
        ok = bool(total.item() == 1.0 and values[-1] < values[0])
        return {"backend": backend, "ok": ok, "first_loss": values[0], "last_loss": values[-1],
                "seconds": time.perf_counter() - t0}
    finally:
        dist.destroy_process_group()
        shutil.rmtree(rendezvous.parent, ignore_errors=True)


def markdown(report: dict[str, Any]) -> str:
    """The report as a few Markdown tables."""
    d = report["device"]
    lines = [f"# GPU check, {report['date']}", "",
             f"{d.get('name')} · driver {d.get('driver', '—')} · CUDA {d.get('cuda')} · torch "
             f"{d['torch']} · Python {d['python']}" + (" · **smoke run on the CPU**"
                                                       if report["smoke"] else ""), ""]
    le = report["lenet5"]
    lines += ["| LeNet-5, mnist-mini | value |", "|---|---|",
              f"| engine images/s (last epoch) | {_n(le.get('engine_images_per_s'))} |"]
    lines += [f"| bare loop {k[5:-13]} images/s | {_n(v)} |" for k, v in le.items()
              if k.startswith("bare_")]
    lines += [f"| engine ÷ fastest bare loop | {le.get('engine_vs_bare', 0):.2f} |",
              f"| test accuracy after {le['epochs']} epochs | {le.get('test_acc') or 0:.2%} |",
              ""]
    for key in ("resnet18", "airbench"):
        net = report[key]
        lines += [f"| {key} (batch {net['batch']}, {net['gflops_per_image_fwd_bwd']:.2f} GFLOP "
                  "per image fwd+bwd) | images/s | TFLOP/s | MFU |", "|---|---|---|---|"]
        for row in net["rows"]:
            label = f"{row['precision']} {'compiled' if row['compiled'] else 'eager'}"
            if "error" in row:
                lines.append(f"| {label} | failed: {row['error'][:80]} | | |")
                continue
            mfu = f"{row['mfu']:.1%}" if "mfu" in row else "—"
            lines.append(f"| {label} | {_n(row['images_per_s'])} | {row['tflops']:.1f} | "
                         f"{mfu} |")
        lines.append("")
    t94 = report["airbench_94"]
    lines += [f"airbench preset to 94%: {t94.get('skipped') or t94.get('reached_94')}", "",
              f"DDP smoke ({report['ddp']['backend']}): "
              f"{'ok' if report['ddp']['ok'] else 'FAILED'}", "",
              f"Total {report['seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def _n(value: float | None) -> str:
    return f"{value:,.0f}" if value else "—"


def main(argv: list[str] | None = None) -> int:
    """Run the check; exit 0 when every part ran (a failed LeNet-5 run or DDP smoke: 1).

    Without a CUDA GPU it runs the smoke check on the CPU.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "gpu-check")
    parser.add_argument("--smoke", action="store_true",
                        help="the same code on the CPU with tiny sizes, in seconds")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    if not args.smoke and not torch.cuda.is_available():  # `make bench` on a CPU machine, say
        print("no CUDA GPU here: the CPU smoke check instead (--smoke)")
        args.smoke = True
    sizes = SMOKE if args.smoke else FULL
    dev = torch.device("cpu") if args.smoke else torch.device("cuda", 0)
    args.out.mkdir(parents=True, exist_ok=True)
    runs_dir = Path(tempfile.mkdtemp(prefix="runs-", dir=args.out))
    os.environ.setdefault("EXPLORER_RUNS_DIR", str(runs_dir))
    report: dict[str, Any] = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
                              "smoke": args.smoke, "device": device_info(dev)}
    print(f"device: {report['device']}", flush=True)
    report["lenet5"] = lenet(dev, sizes, runs_dir)
    le = report["lenet5"]
    print(f"LeNet-5: engine {_n(le['engine_images_per_s'])} images/s "
          f"(by epoch {le['engine_images_per_s_by_epoch']}), "
          + ", ".join(f"{k} {_n(v)}" for k, v in le.items() if k.startswith("bare_"))
          + f"; test accuracy {le['test_acc'] or 0:.2%} after {le['epochs']} epochs", flush=True)
    for key in ("resnet18", "airbench"):
        print(f"{key}:", flush=True)
        report[key] = network(key, dev, sizes, report["device"])
    report["airbench_94"] = airbench_time_to_94(dev, runs_dir) if not args.smoke else {
        "skipped": "smoke run"}
    print(f"airbench to 94%: {report['airbench_94']}", flush=True)
    report["ddp"] = ddp_smoke(dev, sizes)
    print(f"DDP smoke: {report['ddp']}", flush=True)
    report["seconds"] = time.perf_counter() - t0
    (args.out / "gpu-check.json").write_text(json.dumps(report, indent=1))
    (args.out / "gpu-check.md").write_text(markdown(report))
    print(f"written: {args.out / 'gpu-check.json'}, {args.out / 'gpu-check.md'} "
          f"({report['seconds']:.0f} s)")
    ok = report["lenet5"]["state"] == "finished" and report["ddp"]["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

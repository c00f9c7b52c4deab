"""Verdicts: one sentence per experiment, computed from the metrics its runs recorded.

Each rule is stated in `designs` (`Experiment.rule`) and applied here to the numbers in the
runs' `metrics.jsonl`; the sentence gives those numbers and says plainly when this run does
not support the claim. A run that diverged is a measurement (that network did not train); a
run still going, stopped, or failed for another reason leaves the verdict open.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from explorer.experiments.designs import BN_LARGE_LR, BN_LR, Experiment
from explorer.experiments.pairing import ArmRun
from explorer.training import runs

TRAINED_ACC = 0.5  # a 10-class network "trains" when it gets more than half the test set right
FASTER_BY = 0.01  # BatchNorm's first epoch must beat the plain one by a point
RELU_BY = 0.10  # ReLU must beat sigmoid by ten points
PLAIN_WORSE_BY = 1.10  # the plain network's loss must be 10% above the residual one's


@dataclass(frozen=True)
class Verdict:
    """`holds` is None while the verdict is open (runs missing, live, stopped or failed)."""

    holds: bool | None
    sentence: str


def _diverged(arm: ArmRun) -> bool:
    return arm.state == "failed" and arm.info.status.get("reason", "").startswith("Diverged")


def _open(arms: Sequence[ArmRun], expected: int) -> str | None:
    """Why no verdict can be given yet, or None when every arm has a result."""
    if len(arms) < expected:
        return (f"Only {len(arms)} of this experiment's {expected} runs are in the runs folder; "
                "run it again for a verdict.")
    live = [a.label for a in arms if a.state in runs.ACTIVE_STATES]
    if live:
        return f"Waiting for {len(live)} of {expected} runs: {', '.join(live)}."
    for arm in arms:
        if arm.state == "stopped":
            return f"“{arm.label}” was stopped before it finished; run the experiment again."
        if arm.state == "failed" and not _diverged(arm):
            return (f"“{arm.label}” failed ({arm.info.status.get('reason', 'no reason given')}); "
                    "run the experiment again.")
    return None


def _acc(arm: ArmRun, epoch: int | None = None, key: str = "test_acc") -> float | None:
    """An epoch's accuracy (the last epoch by default); None when it never got there."""
    if not arm.epochs:
        return None
    if epoch is None:
        return arm.epochs[-1][key]
    return arm.epochs[epoch - 1][key] if len(arm.epochs) >= epoch else None


def _acc_text(arm: ArmRun, epoch: int | None = None) -> str:
    if _diverged(arm):
        return "the loss exploded, so it stopped" if not arm.epochs else (
            f"{arm.epochs[-1]['test_acc']:.1%} before the loss exploded")
    value = _acc(arm, epoch)
    return "no finished epoch" if value is None else f"{value:.1%}"


def _trained(arm: ArmRun) -> bool:
    value = _acc(arm)
    return not _diverged(arm) and value is not None and value > TRAINED_ACC


def _conclude(numbers: str, failures: list[str]) -> tuple[bool, str]:
    if not failures:
        return True, f"{numbers} The claim holds on this run."
    return False, f"{numbers} On this run the claim does not hold: {'; '.join(failures)}."


def batchnorm(arms: Sequence[ArmRun]) -> tuple[bool, str]:
    """Arms: without/with BatchNorm at the usual rate, then without/with at the large one."""
    plain, bn, plain_hi, bn_hi = arms
    a, b = _acc(plain, 1), _acc(bn, 1)
    later = (f" (after {len(bn.epochs)}: {_acc_text(bn)} against {_acc_text(plain)})"
             if len(bn.epochs) > 1 else "")
    numbers = (f"At lr {BN_LR:g} after 1 epoch: with BatchNorm {_acc_text(bn, 1)}, without "
               f"{_acc_text(plain, 1)}{later}. At lr {BN_LARGE_LR:g}: with BatchNorm "
               f"{_acc_text(bn_hi)}, without {_acc_text(plain_hi)}.")
    failures = []
    if a is None or b is None or b < a + FASTER_BY:
        failures.append("BatchNorm did not make the first epoch clearly better")
    if not _trained(bn_hi):
        failures.append(f"with BatchNorm the network did not train at lr {BN_LARGE_LR:g} either")
    if _trained(plain_hi):
        failures.append(f"without BatchNorm it trained at lr {BN_LARGE_LR:g} as well")
    return _conclude(numbers, failures)


def activation(arms: Sequence[ArmRun]) -> tuple[bool, str]:
    """Arms: sigmoid + average pool, then ReLU + max pool."""
    sigmoid, relu = arms
    s, r = _acc(sigmoid), _acc(relu)
    classes = relu.info.config.num_classes
    numbers = (f"After {len(relu.epochs)} epoch(s): ReLU + max pool {_acc_text(relu)}, sigmoid "
               f"+ average pool {_acc_text(sigmoid)} (guessing scores {1 / classes:.0%}).")
    if r is None or s is None or r < s + RELU_BY:
        return _conclude(numbers, ["the sigmoid network kept up with the ReLU one"])
    return _conclude(numbers, [])


def augmentation(arms: Sequence[ArmRun]) -> tuple[bool, str]:
    """Arms: no augmentation, then augmentation; the gap is training minus test accuracy."""
    parts, gaps, tests = [], [], []
    for arm in arms:
        train = _acc(arm, key="train_eval_acc" if arm.last and "train_eval_acc" in arm.last
                     else "train_acc")
        test = _acc(arm)
        if train is None or test is None:
            return _conclude(f"“{arm.label}” has no finished epoch.", ["nothing to compare"])
        gaps.append(train - test)
        tests.append(test)
        parts.append(f"{arm.label}: {train:.1%} of its {arm.info.config.train_size:,} training "
                     f"images right and {test:.1%} of the test images (a gap of "
                     f"{100 * (train - test):.1f} points)")
    numbers = "; ".join(parts)
    numbers = numbers[0].upper() + numbers[1:] + "."
    failures = []
    if gaps[1] >= gaps[0]:
        failures.append("the gap did not shrink with augmentation")
    if tests[1] < tests[0]:
        failures.append("the test accuracy fell with augmentation")
    return _conclude(numbers, failures)


def depth(arms: Sequence[ArmRun]) -> tuple[bool, str]:
    """Arms: the plain network, then the residual one; training loss of the last epoch."""
    plain, residual = arms
    if not plain.last or not residual.last:
        diverged = [a.label for a in arms if _diverged(a)]
        return _conclude(f"{' and '.join(diverged) or 'A network'} diverged before an epoch "
                         "ended.", ["there is no training loss to compare"])
    p, r = plain.last["train_loss"], residual.last["train_loss"]
    numbers = (f"After {len(plain.epochs)} epoch(s) the plain network's training loss is "
               f"{p:.3f} ({plain.last['train_acc']:.1%} of training images right), the "
               f"residual one's {r:.3f} ({residual.last['train_acc']:.1%}); on the test set "
               f"{_acc_text(plain)} against {_acc_text(residual)}.")
    if p < PLAIN_WORSE_BY * r:
        return _conclude(numbers, ["the plain network trained about as well"])
    return _conclude(numbers, [])


RULES: dict[str, Callable[[Sequence[ArmRun]], tuple[bool, str]]] = {
    "batchnorm": batchnorm, "activation": activation, "augmentation": augmentation,
    "depth": depth,
}


def verdict(experiment: Experiment, arms: Sequence[ArmRun], quick: bool = False) -> Verdict:
    """The verdict on an experiment's runs as they are now."""
    if (why := _open(arms, len(experiment.arms))) is not None:
        return Verdict(None, why)
    holds, sentence = RULES[experiment.key](arms)
    if quick:
        sentence += (" (A quick check: far too few images and epochs to judge the claim; run "
                     "the full size for a verdict that means something.)")
    return Verdict(holds, sentence)

"""Verdicts: one sentence per experiment, computed from the metrics its runs recorded.

Each rule is stated in `designs` (`Experiment.rule`) and applied here to the numbers in the
runs' `metrics.jsonl`; the sentence gives those numbers and says plainly when this run does
not support the claim. A run that diverged is a measurement (that network did not train); a
run still going, stopped, or failed for another reason leaves the verdict open.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from explorer.experiments.designs import BN_LARGE_LR, BN_LR, Experiment, arm_title
from explorer.experiments.pairing import ArmRun
from explorer.i18n import _
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
    return arm.state == "failed" and arm.info.status.reason.startswith("Diverged")


def _open(arms: Sequence[ArmRun], expected: int) -> str | None:
    """Why no verdict can be given yet, or None when every arm has a result."""
    if len(arms) < expected:
        return _("Only {n} of this experiment's {expected} runs are in the runs folder; run it "
                 "again for a verdict.").format(n=len(arms), expected=expected)
    live = [arm_title(a.label) for a in arms if a.state in runs.ACTIVE_STATES]
    if live:
        return _("Waiting for {n} of {expected} runs: {names}.").format(
            n=len(live), expected=expected, names=_(", ").join(live))
    for arm in arms:
        if arm.state == "stopped":
            return _("“{arm}” was stopped before it finished; run the experiment again.").format(
                arm=arm_title(arm.label))
        if arm.state == "failed" and not _diverged(arm):
            return _("“{arm}” failed ({reason}); run the experiment again.").format(
                arm=arm_title(arm.label),
                reason=arm.info.status.shown_reason or _("no reason given"))
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
        return _("the loss exploded, so it stopped") if not arm.epochs else (
            _("{acc:.1%} before the loss exploded").format(acc=arm.epochs[-1]["test_acc"]))
    value = _acc(arm, epoch)
    return _("no finished epoch") if value is None else f"{value:.1%}"


def _trained(arm: ArmRun) -> bool:
    value = _acc(arm)
    return not _diverged(arm) and value is not None and value > TRAINED_ACC


def _conclude(numbers: str, failures: list[str]) -> tuple[bool, str]:
    if not failures:
        return True, _("{numbers} The claim holds on this run.").format(numbers=numbers)
    return False, _("{numbers} On this run the claim does not hold: {failures}.").format(
        numbers=numbers, failures=_("; ").join(failures))


def batchnorm(arms: Sequence[ArmRun]) -> tuple[bool, str]:
    """Arms: without/with BatchNorm at the usual rate, then without/with at the large one."""
    plain, bn, plain_hi, bn_hi = arms
    a, b = _acc(plain, 1), _acc(bn, 1)
    later = (_(" (after {n}: {with_bn} against {without})").format(
        n=len(bn.epochs), with_bn=_acc_text(bn), without=_acc_text(plain))
             if len(bn.epochs) > 1 else "")
    numbers = _("At lr {lr:g} after 1 epoch: with BatchNorm {bn}, without {plain}{later}. At lr "
                "{large_lr:g}: with BatchNorm {bn_hi}, without {plain_hi}.").format(
        lr=BN_LR, bn=_acc_text(bn, 1), plain=_acc_text(plain, 1), later=later,
        large_lr=BN_LARGE_LR, bn_hi=_acc_text(bn_hi), plain_hi=_acc_text(plain_hi))
    failures = []
    if a is None or b is None or b < a + FASTER_BY:
        failures.append(_("BatchNorm did not make the first epoch clearly better"))
    if not _trained(bn_hi):
        failures.append(_("with BatchNorm the network did not train at lr {lr:g} either").format(
            lr=BN_LARGE_LR))
    if _trained(plain_hi):
        failures.append(_("without BatchNorm it trained at lr {lr:g} as well").format(
            lr=BN_LARGE_LR))
    return _conclude(numbers, failures)


def activation(arms: Sequence[ArmRun]) -> tuple[bool, str]:
    """Arms: sigmoid + average pool, then ReLU + max pool."""
    sigmoid, relu = arms
    s, r = _acc(sigmoid), _acc(relu)
    classes = relu.info.config.num_classes
    numbers = _("After {n} epoch(s): ReLU + max pool {relu}, sigmoid + average pool {sigmoid} "
                "(guessing scores {chance:.0%}).").format(
        n=len(relu.epochs), relu=_acc_text(relu), sigmoid=_acc_text(sigmoid),
        chance=1 / classes)
    if r is None or s is None or r < s + RELU_BY:
        return _conclude(numbers, [_("the sigmoid network kept up with the ReLU one")])
    return _conclude(numbers, [])


def augmentation(arms: Sequence[ArmRun]) -> tuple[bool, str]:
    """Arms: no augmentation, then augmentation; the gap is training minus test accuracy."""
    parts, gaps, tests = [], [], []
    for arm in arms:
        train = _acc(arm, key="train_eval_acc" if arm.last and "train_eval_acc" in arm.last
                     else "train_acc")
        test = _acc(arm)
        if train is None or test is None:
            return _conclude(_("“{arm}” has no finished epoch.").format(
                arm=arm_title(arm.label)), [_("nothing to compare")])
        gaps.append(train - test)
        tests.append(test)
        parts.append(_("{arm}: {train:.1%} of its {n:,} training images right and {test:.1%} of "
                       "the test images (a gap of {gap:.1f} points)").format(
            arm=arm_title(arm.label), train=train, n=arm.info.config.train_size, test=test,
            gap=100 * (train - test)))
    numbers = _("; ").join(parts)
    numbers = numbers[0].upper() + numbers[1:] + _(".")
    failures = []
    if gaps[1] >= gaps[0]:
        failures.append(_("the gap did not shrink with augmentation"))
    if tests[1] < tests[0]:
        failures.append(_("the test accuracy fell with augmentation"))
    return _conclude(numbers, failures)


def depth(arms: Sequence[ArmRun]) -> tuple[bool, str]:
    """Arms: the plain network, then the residual one; training loss of the last epoch."""
    plain, residual = arms
    if not plain.last or not residual.last:
        diverged = [arm_title(a.label) for a in arms if _diverged(a)]
        return _conclude(_("{networks} diverged before an epoch ended.").format(
            networks=_(" and ").join(diverged) or _("A network")),
            [_("there is no training loss to compare")])
    p, r = plain.last["train_loss"], residual.last["train_loss"]
    numbers = _("After {n} epoch(s) the plain network's training loss is {p:.3f} ({p_acc:.1%} "
                "of training images right), the residual one's {r:.3f} ({r_acc:.1%}); on the "
                "test set {p_test} against {r_test}.").format(
        n=len(plain.epochs), p=p, p_acc=plain.last["train_acc"], r=r,
        r_acc=residual.last["train_acc"], p_test=_acc_text(plain), r_test=_acc_text(residual))
    if p < PLAIN_WORSE_BY * r:
        return _conclude(numbers, [_("the plain network trained about as well")])
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
        sentence += " " + _("(A quick check: far too few images and epochs to judge the claim; "
                            "run the full size for a verdict that means something.)")
    return Verdict(holds, sentence)

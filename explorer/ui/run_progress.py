"""A live run's progress on screen: its place in the queue or its phase, a progress bar with
the epoch, step, elapsed time and ETA, and four readouts (images/s, memory, loss, epochs)."""

from __future__ import annotations

import streamlit as st

from explorer.i18n import N_, _
from explorer.training import reasons, run_queue, runs

PHASE_NAMES = {"starting": N_("starting"), "loading data": N_("loading data"),
               "compiling": N_("compiling")}


def duration(seconds: float | None) -> str:
    """"m:ss", or "…" while it is not known yet."""
    if seconds is None:
        return "…"
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def readouts(info: runs.RunInfo) -> None:
    """The queue position or the progress bar, then the readouts and the run's notes."""
    p = info.status.progress
    if info.state == "queued":
        where = run_queue.position(info.run_id)
        st.info(_("Waiting in the queue: number {n}. It starts when a slot of its device is "
                  "free.").format(n=where or "…"))
    elif p.phase in PHASE_NAMES:
        extra = f" {p.elapsed_s:.0f} s" if p.phase == "compiling" else ""
        st.progress(0.0, text=f"{_(PHASE_NAMES[p.phase])}…{extra}")
    else:
        st.progress(p.fraction, text=_(
            "epoch {epoch} of {epochs} · step {step} of {steps} · elapsed {elapsed} · ETA "
            "{eta}").format(epoch=min(p.epoch + 1, p.epochs), epochs=p.epochs, step=p.step,
                            steps=p.total_steps, elapsed=duration(p.elapsed_s),
                            eta=duration(p.eta_s)))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(_("Images per second"), f"{p.images_per_s:,.0f}" if p.images_per_s else "…")
    label = _("Process memory (CPU)") if p.device in ("", "cpu") else _("Device memory")
    m2.metric(label, f"{p.memory_mb:,.0f} MB" if p.memory_mb else "…")
    m3.metric(_("Latest loss"), f"{p.loss:.4f}" if p.loss is not None else "…")
    m4.metric(_("Epochs done"), f"{p.epoch} / {p.epochs or info.config.settings.epochs}")
    notes = [_("{n} processes (DDP)").format(n=p.processes) if p.processes > 1 else "",
             _("compiled in {s:.1f} s").format(s=p.compile_s) if p.compile_s else "",
             reasons.shown_note(p.note)]
    if any(notes):
        st.caption(" · ".join(n for n in notes if n))

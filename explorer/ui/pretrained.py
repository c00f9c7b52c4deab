"""The "Download ImageNet weights (NN MB)" button of the Model zoo and Feature maps pages.

One button per published file, a progress bar while it downloads (`explorer.models.weights`
checks the hash and renames the file into the torch hub cache), one sentence when it fails,
and one when the copy already in the cache failed its check (the button then fetches it
again). Shared by both pages, hence here rather than in a page script. Nothing here names a
folder of the server's: students read it.
"""

from __future__ import annotations

import time

import streamlit as st

from explorer.i18n import _
from explorer.models import weights

PROGRESS_EVERY_S = 0.2  # a progress message per 256 kB chunk would flood the websocket


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MB"


def _how_checked(file: weights.WeightsFile) -> str:
    if file.full_sha256():
        return _("Fetches {url} into the server's torch hub cache and checks all 64 hex digits "
                 "of its SHA-256.").format(url=file.source_url)
    return _("Fetches {url} into the server's torch hub cache, checked by the SHA-256 prefix in "
             "its name ({prefix}); its full SHA-256 is then recorded and checked whenever the "
             "server loads it.").format(url=file.source_url, prefix=file.hash_prefix)


def download_button(file: weights.WeightsFile, key: str, messages=None) -> bool:
    """Draw the button; on a click download `file` with a progress bar.

    The progress bar, any failure, and why a copy already in the cache was refused go to
    `messages` (a container; default: under the button). Returns True when this click put the
    file in place (the caller reruns to use it).
    """
    clicked = st.button(file.button_label(), key=key, icon=":material/download:",
                        help=_how_checked(file))
    messages = messages or st.container()
    if refusal := file.refusal():
        messages.warning(refusal, icon=":material/gpp_bad:")
    if not clicked:
        return False
    bar = messages.progress(0.0, text=_("Downloading {file}…").format(file=file.filename))
    last = [0.0]

    def progress(done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S and done != total:
            return
        last[0] = now
        if total:
            bar.progress(min(done / total, 1.0),
                         text=_("Downloading {file}: {done} of {total}").format(
                             file=file.filename, done=_mb(done), total=_mb(total)))
        else:
            bar.progress(0.0, text=_("Downloading {file}: {done}").format(file=file.filename,
                                                                         done=_mb(done)))

    try:
        weights.download(file, progress)
    except weights.DownloadError as err:
        bar.empty()
        messages.error(str(err), icon=":material/cloud_off:")
        return False
    bar.progress(1.0, text=_("{file} is in place, its hash checked.").format(
        file=file.filename))
    return True

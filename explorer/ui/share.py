"""The "Copy link to this view" button every page carries in its sidebar.

The address bar already holds the view (`widgets.url_state` / `sync_url`), so the button copies
what the browser shows at the moment of the click, fragments' latest changes included. The
clipboard API needs a secure origin (https or localhost), which a classroom server on a plain
IP address is not, so the copy falls back to a selected text field and `execCommand("copy")`.
"""

from __future__ import annotations

import html
import json

import streamlit as st

from explorer.i18n import _

UPLOAD_MARK = "upload"  # ?photo= value of a view whose photo was an upload

_SCRIPT = """<script>
(() => {
  for (const button of document.querySelectorAll("button[data-explorer-share]")) {
    if (button.dataset.bound) continue;
    button.dataset.bound = "1";
    const texts = JSON.parse(button.dataset.texts);
    const status = button.parentElement.querySelector("[data-explorer-share-status]");
    const fallback = url => {
      const box = document.createElement("textarea");
      box.value = url; box.setAttribute("readonly", "");
      box.style.position = "fixed"; box.style.opacity = "0";
      document.body.appendChild(box); box.select();
      let ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      box.remove();
      return ok;
    };
    button.addEventListener("click", async () => {
      const url = window.location.href;
      let ok = false;
      try { await navigator.clipboard.writeText(url); ok = true; } catch (e) { ok = fallback(url); }
      const fromUpload = new URL(url).searchParams.get("photo") === "%(mark)s";
      status.textContent = (ok ? texts.copied : texts.failed + " " + url)
        + (fromUpload ? " " + texts.upload : "");
      status.dataset.url = url;
    });
  }
})();
</script>"""

_STYLE = """<style>
button[data-explorer-share] {
  width: 100%; padding: 0.35rem 0.75rem; border-radius: 0.5rem; cursor: pointer;
  border: 1px solid rgba(49, 51, 63, 0.2); background: white; color: inherit;
  font: inherit; font-size: 0.95rem;
}
button[data-explorer-share]:hover { border-color: #ff4b4b; color: #ff4b4b; }
[data-explorer-share-status] { font-size: 0.85rem; opacity: 0.8; margin-top: 0.35rem;
  overflow-wrap: anywhere; }
</style>"""


def copy_link_button() -> None:
    """Draw the button (and the line that reports the copy) at the sidebar's current place."""
    texts = {
        "copied": _("Link copied: whoever opens it sees this page with these settings."),
        "failed": _("The browser would not copy; select and copy this link:"),
        "upload": _("Your uploaded photo is not in the link (a link cannot carry a file): "
                    "whoever opens it sees a sample photo instead."),
    }
    label = html.escape(_("Copy link to this view"))
    markup = (
        _STYLE
        + f'<div><button type="button" data-explorer-share '
        f"data-texts='{html.escape(json.dumps(texts, ensure_ascii=False), quote=True)}'>"
        f"{label}</button><div data-explorer-share-status></div></div>"
        + _SCRIPT % {"mark": UPLOAD_MARK}
    )
    with st.sidebar:
        st.html(markup, unsafe_allow_javascript=True)

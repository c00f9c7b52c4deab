"""A client that speaks Streamlit's websocket protocol itself, the way a student with developer
tools could: any cookie, any page, and any widget value, even for a widget the page drew
disabled. For tests of what the server refuses; it talks to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ssl
import urllib.request
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Common_pb2 import UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect


@dataclass
class Button:
    id: str
    label: str
    disabled: bool


# the element kinds that are widgets with a state the client reports (buttons are triggers)
WIDGET_KINDS = ("checkbox", "radio", "selectbox", "multiselect", "slider", "number_input",
                "text_input", "text_area", "file_uploader", "camera_input", "button_group",
                "color_picker", "date_input", "time_input", "dataframe")


@dataclass
class Widget:
    kind: str
    id: str
    proto: object  # the element's own message (options, bounds, accepted types, ...)


@dataclass
class Render:
    """What one run of the script drew: its buttons, other widgets, headings and text."""

    buttons: list[Button] = field(default_factory=list)
    widgets: list[Widget] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)

    def button(self, label: str) -> Button:
        found = [b for b in self.buttons if b.label == label]
        assert found, f"no button {label!r} among {[b.label for b in self.buttons]}"
        return found[-1]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


def _collect(render: Render, element) -> None:
    kind = element.WhichOneof("type")
    if kind == "button":
        render.buttons.append(Button(element.button.id, element.button.label,
                                     element.button.disabled))
    elif kind == "markdown":
        render.texts.append(element.markdown.body)
    elif kind == "alert":
        render.texts.append(element.alert.body)
    elif kind == "heading":
        render.headings.append(element.heading.body)
    elif kind in WIDGET_KINDS:
        proto = getattr(element, kind)
        render.widgets.append(Widget(kind, proto.id, proto))
    elif kind == "exception":
        render.exceptions.append(f"{element.exception.type}: {element.exception.message}")


class WireClient:
    """One forged browser session on one page (`async with WireClient(...) as client:`)."""

    def __init__(self, base_url: str, page: str, query: str = "", cookies: str = "") -> None:
        self.base_url, self.page, self.query, self.cookies = base_url, page, query, cookies
        self.page_hash = ""
        self.session_id = ""
        self.ws = None
        self._tls = ssl._create_unverified_context() if base_url.startswith("https") else None

    async def __aenter__(self) -> WireClient:
        # as a browser does: GET the page first, for the XSRF cookie the websocket expects
        jar = []
        for path in (self.page, "_stcore/health"):  # the health check sets the XSRF cookie
            request = urllib.request.Request(f"{self.base_url}/{path}",
                                             headers={"Cookie": self.cookies})
            with urllib.request.urlopen(request, timeout=30, context=self._tls) as response:
                jar += [c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or []]
        self.cookies = "; ".join(x for x in [self.cookies, *jar] if x)
        ws_url = self.base_url.replace("http", "ws", 1) + "/_stcore/stream"
        self.ws = await connect(ws_url, subprotocols=["streamlit"], ssl=self._tls,
                                origin=self.base_url, additional_headers={"Cookie": self.cookies},
                                max_size=None)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    def _state(self) -> ClientState:
        state = ClientState()
        state.query_string = self.query
        if self.page_hash:
            state.page_script_hash = self.page_hash
        else:
            state.page_name = self.page
        state.context_info.locale = "en-US"
        state.context_info.url = f"{self.base_url}/{self.page}"
        return state

    async def run(self, widgets: list[WidgetState] | None = None, timeout: float = 60) -> Render:
        """One rerun, with `widgets` as the widget states the browser would report."""
        state = self._state()
        state.widget_states.widgets.extend(widgets or [])
        back = BackMsg()
        back.rerun_script.CopyFrom(state)
        await self.ws.send(back.SerializeToString())
        render = Render()
        async with asyncio.timeout(timeout):
            async for raw in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                kind = msg.WhichOneof("type")
                if kind == "navigation":
                    self.page_hash = msg.navigation.page_script_hash
                elif kind == "new_session" and msg.new_session.HasField("initialize"):
                    self.session_id = msg.new_session.initialize.session_id or self.session_id
                elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    _collect(render, msg.delta.new_element)
                elif kind == "page_info_changed":
                    self.query = msg.page_info_changed.query_string
                elif kind == "script_finished" and msg.script_finished in (
                        ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR):
                    return render
        raise AssertionError("unreachable")

    async def click(self, button: Button) -> Render:
        """Send a click of `button`, whatever the page says of it (disabled or not)."""
        trigger = WidgetState(id=button.id)
        trigger.trigger_value = True
        return await self.run([trigger])

    async def upload(self, uploader_id: str, name: str, data: bytes) -> WidgetState:
        """Store `data` as a file called `name` for this session, as a browser's uploader does
        (ask for its URLs, PUT it), whatever types the uploader names; returns the widget
        state that hands it to the uploader `uploader_id` on the next run."""
        back = BackMsg()
        back.file_urls_request.request_id = "wire"
        back.file_urls_request.file_names.append(name)
        back.file_urls_request.session_id = self.session_id
        await self.ws.send(back.SerializeToString())
        async with asyncio.timeout(30):
            async for raw in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                if msg.WhichOneof("type") == "file_urls_response":
                    urls = msg.file_urls_response.file_urls[0]
                    break
        boundary = "wireclientboundary"
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        xsrf = next((c.split("=", 1)[1] for c in self.cookies.split("; ")
                     if c.startswith("_streamlit_xsrf=")), "")
        request = urllib.request.Request(
            self.base_url + urls.upload_url, data=body, method="PUT",
            headers={"Cookie": self.cookies, "X-Xsrftoken": xsrf, "Origin": self.base_url,
                     "Content-Type": f"multipart/form-data; boundary={boundary}"})
        await asyncio.to_thread(urllib.request.urlopen, request, timeout=30, context=self._tls)
        state = WidgetState(id=uploader_id)
        info = UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id)
        info.file_urls.CopyFrom(urls)
        state.file_uploader_state_value.uploaded_file_info.append(info)
        return state


def forged_session(base_url: str, page: str, query: str, cookies: str, steps):
    """`await steps(client)` with a fresh client, in a thread of its own (Playwright's sync
    API already runs an event loop in the test's thread); returns what `steps` returned."""

    async def go():
        async with WireClient(base_url, page, query, cookies) as client:
            return await steps(client)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()

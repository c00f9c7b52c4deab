"""Students' identities: signed cookies that cannot be forged, tags that cannot be cookies."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from explorer.classroom import identity, secret_key

KEY = b"k" * 32


def test_a_signed_id_verifies_and_its_tag_is_stable():
    browser = identity.new_id()
    cookie = identity.sign(browser, KEY)
    assert identity.verify(cookie, KEY) == browser
    assert identity.owner_tag(browser, KEY) == identity.owner_tag(browser, KEY)
    assert identity.owner_tag(browser, KEY) != identity.owner_tag(identity.new_id(), KEY)


@pytest.mark.parametrize("forge", [
    lambda c, b: b,  # the id alone, as a student might copy it
    lambda c, b: c.rsplit(".", 1)[0],  # the cookie minus its signature
    lambda c, b: c[:-1] + ("0" if c[-1] != "0" else "1"),  # one digit of the signature off
    lambda c, b: c.replace(b, identity.new_id()),  # someone else's id under this signature
    lambda c, b: "v2" + c[2:],
    lambda c, b: c.upper(),
    lambda c, b: c + ".x",
    lambda c, b: "",
    lambda c, b: None,
    lambda c, b: 12,
    lambda c, b: "v1." + "a" * 500,
])
def test_anything_but_the_server_s_signature_is_refused(forge):
    browser = identity.new_id()
    assert identity.verify(forge(identity.sign(browser, KEY), browser), KEY) is None


def test_another_server_key_refuses_the_cookie():
    browser = identity.new_id()
    assert identity.verify(identity.sign(browser, KEY), b"x" * 32) is None


def test_the_tag_is_not_a_cookie():
    browser = identity.new_id()
    tag = identity.owner_tag(browser, KEY)
    assert identity.verify(tag, KEY) is None
    assert identity.verify(f"v1.{tag}.{identity.sign(browser, KEY).rsplit('.', 1)[1]}",
                           KEY) is None


def _key_in_a_process(folder: str, out) -> None:
    secret_key._load.cache_clear()
    out.put(secret_key.load(Path(folder)))


def test_processes_creating_the_key_at_once_agree(tmp_path, monkeypatch):
    monkeypatch.delenv("EXPLORER_SECRET_KEY_FILE", raising=False)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_key_in_a_process, args=(str(tmp_path), out)) for _ in range(4)]
    for p in procs:
        p.start()
    keys = {out.get(timeout=30) for _ in procs}
    for p in procs:
        p.join()
    assert len(keys) == 1 and len(keys.pop()) == secret_key.KEY_BYTES
    path = secret_key.key_path(tmp_path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_a_short_key_file_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "short.key"
    path.write_bytes(b"123")
    monkeypatch.setenv("EXPLORER_SECRET_KEY_FILE", str(path))
    secret_key._load.cache_clear()
    try:
        with pytest.raises(ValueError, match="shorter"):
            secret_key.load(tmp_path)
    finally:
        secret_key._load.cache_clear()

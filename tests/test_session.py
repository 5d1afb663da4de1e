"""The HTTP session resolves the environment's proxies once per host, and still uses them.

requests reads the whole environment for proxy settings on every request; tap-pm's session
(tap_pm/session.py) keeps the answer per scheme and host, which must change nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
from conftest import API_KEY, run_tap, tap_config
from hostile_servers import HostileServer

from rocketlane_emulator import Emulator, Scale
from tap_pm import session as session_module

if TYPE_CHECKING:
    from pathlib import Path

    import pytest
    from hostile_servers import Handler
    from requests.sessions import _Settings  # the stubs' type of the settings

# Nothing listens on the discard port: a request reaches the emulator only through the proxy.
UNREACHABLE = "http://localhost:9/api/1.0"


def test_the_environments_proxy_carries_every_request(tmp_path: Path) -> None:
    with Emulator(seed=1, scale=Scale.small(), api_key=API_KEY) as emu:
        config = tap_config(emu, base_url=UNREACHABLE, max_retries=0, request_timeout=5)
        proxy = {"HTTP_PROXY": f"http://127.0.0.1:{emu.port}", "NO_PROXY": ""}
        run = run_tap(tmp_path, config, env=proxy)
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.ids("tasks") == emu.ids("tasks")
        bypassed = run_tap(tmp_path, config, env={**proxy, "NO_PROXY": "localhost"})
    assert bypassed.returncode != 0
    assert "ConnectionError" in bypassed.stderr


def test_proxies_are_resolved_once_per_host(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    merge = requests.Session.merge_environment_settings

    def counting(self: requests.Session, url: str, *args: Any) -> _Settings:
        calls.append(url)
        return merge(self, url, *args)

    monkeypatch.setattr(requests.Session, "merge_environment_settings", counting)
    with Emulator(seed=1, scale=Scale.small(), api_key=API_KEY) as emu:
        session = session_module.Session()
        for path in ("tasks", "users", "tasks?pageSize=1"):
            request = requests.Request(
                "GET", f"{emu.base_url}/{path}", headers={"api-key": API_KEY}
            ).prepare()
            assert session.send(request, timeout=10).status_code == 200
    assert len(calls) == 1


def test_every_redirect_hop_takes_its_place_in_the_budget() -> None:
    hops: list[int] = []

    def two_hops(h: Handler) -> None:
        step = h.path.count("/again")
        if step < 2:
            h.redirect(f"{h.path}/again", 307)
        else:
            h.reply(200, {"data": [], "pagination": {"hasMore": False}})

    with HostileServer(behave=two_hops) as server:
        session = session_module.Session(
            base_url=server.base_url, before_hop=lambda: hops.append(1)
        )
        request = requests.Request("GET", f"{server.base_url}/users").prepare()
        response = session.send(request, timeout=10)
    assert response.status_code == 200
    assert response.json() == {"data": [], "pagination": {"hasMore": False}}
    assert len(hops) == 2
    assert len(server.seen) == 3

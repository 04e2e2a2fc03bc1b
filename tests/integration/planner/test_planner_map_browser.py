"""The planner's map in a real browser: log in, streets under the hexagons, two clicks draw the routes.

Runs the real service (uvicorn, on a free port, against the test database) with
a small demo city, and drives Debian's Chromium through chromedriver (Selenium).
Without Chromium it skips on a developer machine and fails in CI (CI=true), where
``.ci/run`` installs it. The screenshot is kept in ``tests/artifacts/planner-map.png``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h3
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.cli.demo import _auth
from api.database import make_engine, make_sessionmaker
from api.settings import Settings
from domain.core.codes import CodeHasher
from domain.demo.service import DEMO_PASSWORD, DemoSize, seed_city
from tests.clock import session_clock
from tests.integration.conftest import free_port
from tests.tooling import require_or_skip

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

webdriver: Any = None
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - the dev extras install it
    pass


DEMO_SEED = 7


@pytest.fixture
def browser_tools() -> None:
    have = webdriver is not None and Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()
    require_or_skip(
        have, "Chromium, chromedriver and selenium are needed (apt-get install chromium chromium-driver)"
    )


@pytest.fixture
async def demo_city(clean_db: AsyncEngine, settings: Settings) -> Settings:
    """A small demo city, released at res 8 under the test policy (threshold 9 people, bounded to 4
    cells each): 80 simulated people put enough of them in a cell for the release to show it ridden
    (24 were too few: every released cell showed nobody, and the router had nothing to join)."""
    city = dataclasses.replace(settings, release_resolution=8, open_data_resolution=8)
    engine = make_engine(city.database_url or "", null_pool=True)
    try:
        await seed_city(
            engine,
            make_sessionmaker(engine),
            _auth(city),
            CodeHasher(city.secret_key),
            DemoSize(seed=DEMO_SEED, users=80, rides=480, hotspots=8),
            policy_version=city.privacy_policy_version,
            now=session_clock(),
            progress=lambda step, done, total: None,
        )
    finally:
        await engine.dispose()
    return city


@pytest.fixture
def service(demo_city: Settings) -> Iterator[str]:
    port = free_port()
    app = create_app(demo_city, null_pool=True, log_config=False, clock=session_clock)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the service did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def chrome(browser_tools: None) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="sr-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _data(driver: Any, name: str) -> int:
    return int(driver.find_element(By.ID, "map").get_attribute(f"data-{name}") or 0)


def _shown(driver: Any, element_id: str) -> bool:
    return bool(driver.find_element(By.ID, element_id).is_displayed())


def _wheel(driver: Any, delta_y: int, times: int = 4) -> None:
    """Turn the mouse wheel over the map's centre (negative: zoom in)."""
    driver.execute_script(
        """const [dy, times] = arguments;
        const map = document.getElementById("map");
        const box = map.getBoundingClientRect();
        for (let i = 0; i < times; i += 1) map.dispatchEvent(new WheelEvent("wheel", {
          deltaY: dy, clientX: box.left + box.width / 2, clientY: box.top + box.height / 2,
          bubbles: true, cancelable: true }));""",
        delta_y,
        times,
    )


def _routable_pair(service: str, cells: list[str]) -> tuple[str, str]:
    """The two ridden cells farthest apart (in cells) that the router joins: the release shows people
    in each, but it may show a district apart from the rest, which no route reaches."""
    login = json.dumps({"handle": "planner", "password": DEMO_PASSWORD}).encode()
    request = urllib.request.Request(  # noqa: S310 - our own local service
        f"{service}/auth/login", data=login, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - our own local service
        token = json.load(answer)["accessToken"]
    pairs = sorted(
        ((a, b) for i, a in enumerate(cells) for b in cells[i + 1 :]),
        key=lambda pair: -h3.grid_distance(*pair),
    )
    for a, b in pairs:
        (alat, alon), (blat, blon) = h3.cell_to_latlng(a), h3.cell_to_latlng(b)
        query = urllib.parse.urlencode(
            {"from": f"{alat:.6f},{alon:.6f}", "to": f"{blat:.6f},{blon:.6f}", "profile": "shortest"}
        )
        asked = urllib.request.Request(  # noqa: S310 - our own local service
            f"{service}/routes/safe?{query}", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(asked, timeout=30):  # noqa: S310 - our own local service
                return a, b
        except urllib.error.HTTPError as refused:
            code = refused.code
        assert code == 422, f"the route between {a} and {b} answered {code}"
    raise AssertionError(f"no two of the {len(cells)} ridden cells are joined by a route")


@pytest.mark.slow
def test_planner_logs_in_sees_the_hexagons_and_draws_a_route(service: str, chrome: Any) -> None:
    chrome.get(f"{service}/planner/map")
    # before logging in only the form shows: `hidden` beats the workspace's flex layout
    assert _shown(chrome, "login")
    for hidden in ("workspace", "legend-danger", "session", "map"):
        assert not _shown(chrome, hidden), f"#{hidden} shows before login"
    chrome.find_element(By.NAME, "handle").send_keys("planner")
    chrome.find_element(By.NAME, "password").send_keys(DEMO_PASSWORD)
    chrome.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()

    wait = WebDriverWait(chrome, 60)
    wait.until(lambda d: _data(d, "hexagons") > 0 or "failed" in d.find_element(By.ID, "status").text)
    status = chrome.find_element(By.ID, "status").text
    assert _data(chrome, "hexagons") > 0, status
    assert not _shown(chrome, "login")
    for shown in ("workspace", "legend-danger", "session", "map"):
        assert _shown(chrome, shown), f"#{shown} is hidden after login"
    assert not _shown(chrome, "route-figures")
    assert len(chrome.find_elements(By.CSS_SELECTOR, "#layer-hexagons path.hex")) == _data(chrome, "hexagons")
    assert _data(chrome, "hazards") > 0
    assert len(chrome.find_elements(By.CSS_SELECTOR, "#legend-danger li")) == 5

    # the imported streets are drawn from GET /streets, in a layer under the hexagons
    wait.until(lambda d: _data(d, "streets") > 0)
    streets = chrome.find_elements(By.CSS_SELECTOR, "#layer-streets polyline.street")
    assert len(streets) == _data(chrome, "streets") > 100
    layers = [g.get_attribute("id") for g in chrome.find_elements(By.CSS_SELECTOR, "#map > g")]
    assert layers.index("layer-streets") < layers.index("layer-hexagons")
    assert streets[0].is_displayed()

    # names show only once zoomed in (a few metres a pixel): the demo's city centre may open that
    # close, so zoom out (a wheel step a poll) until they go, in until they come, and out again
    # (the texts are read in one script: a redraw replaces the elements between two reads)
    def names(driver: Any) -> list[str]:
        return list(
            driver.execute_script(
                "return [...document.querySelectorAll('#layer-streets text.street-name')]"
                ".map((t) => t.textContent)"
            )
        )

    wait.until(lambda d: not names(d) or _wheel(d, 100, 1))
    shown = set(wait.until(lambda d: names(d) or _wheel(d, -100, 1)))
    assert shown and all(n.strip() for n in shown), shown  # Helsinki's, from the demo's extract
    wait.until(lambda d: not names(d) or _wheel(d, 100, 1))

    # two ridden hexagons as far apart as the router joins: the release shows people there
    hexes = {
        h.get_attribute("data-cell"): h
        for h in chrome.find_elements(By.CSS_SELECTOR, "#layer-hexagons path.hex[data-ridden=yes]")
    }
    assert len(hexes) >= 2, status
    first, last = _routable_pair(service, sorted(hexes))
    for cell in (first, last):
        ActionChains(chrome).move_to_element(hexes[cell]).click().perform()

    wait.until(lambda d: _data(d, "routes") == 2 or "No route" in d.find_element(By.ID, "status").text)
    status = chrome.find_element(By.ID, "status").text
    assert _data(chrome, "routes") == 2, status
    assert chrome.find_element(By.CSS_SELECTOR, "#layer-routes polyline.safest").get_attribute("points")
    assert chrome.find_element(By.CSS_SELECTOR, "#layer-routes polyline.shortest").get_attribute("points")
    assert "Safest:" in status
    assert _shown(chrome, "route-figures")
    ARTIFACTS.mkdir(exist_ok=True)
    assert chrome.save_screenshot(str(ARTIFACTS / "planner-map.png"))

"""The planner's map in a real browser: log in, hexagons drawn, two clicks draw the safe and shortest routes.

Runs the real service (uvicorn, on a free port, against the test database) with
a small demo city, and drives Debian's Chromium through chromedriver (Selenium).
Without Chromium it skips on a developer machine and fails in CI (CI=true), where
``.ci/run`` installs it. The screenshot is kept in ``tests/artifacts/planner-map.png``.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.cli.demo import _auth
from api.database import make_engine, make_sessionmaker
from api.settings import Settings
from domain.core.codes import CodeHasher
from domain.demo.service import DEMO_PASSWORD, DemoSize, seed_city
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


@pytest.fixture
def browser_tools() -> None:
    have = webdriver is not None and Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()
    require_or_skip(
        have, "Chromium, chromedriver and selenium are needed (apt-get install chromium chromium-driver)"
    )


@pytest.fixture
async def demo_city(clean_db: AsyncEngine, settings: Settings) -> Settings:
    """A small demo city, released at res 8 under the test policy (threshold 9 people, bounded to 4
    cells each), so that a few dozen simulated people make a visible heatmap."""
    city = dataclasses.replace(settings, release_resolution=8, open_data_resolution=8)
    engine = make_engine(city.database_url or "", null_pool=True)
    try:
        await seed_city(
            make_sessionmaker(engine),
            _auth(city),
            CodeHasher(city.secret_key),
            DemoSize(seed=7, users=40, rides=320, hotspots=8),
            policy_version=city.privacy_policy_version,
            now=datetime.now(UTC),
            progress=lambda step, done, total: None,
        )
    finally:
        await engine.dispose()
    return city


@pytest.fixture
def service(demo_city: Settings) -> Iterator[str]:
    port = free_port()
    app = create_app(demo_city, null_pool=True, log_config=False)
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


@pytest.mark.slow
def test_planner_logs_in_sees_the_hexagons_and_draws_a_route(service: str, chrome: Any) -> None:
    chrome.get(f"{service}/planner/map")
    chrome.find_element(By.NAME, "handle").send_keys("planner")
    chrome.find_element(By.NAME, "password").send_keys(DEMO_PASSWORD)
    chrome.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()

    wait = WebDriverWait(chrome, 60)
    wait.until(lambda d: _data(d, "hexagons") > 0 or "failed" in d.find_element(By.ID, "status").text)
    status = chrome.find_element(By.ID, "status").text
    assert _data(chrome, "hexagons") > 0, status
    assert len(chrome.find_elements(By.CSS_SELECTOR, "#layer-hexagons path.hex")) == _data(chrome, "hexagons")
    assert _data(chrome, "hazards") > 0
    assert len(chrome.find_elements(By.CSS_SELECTOR, "#legend-danger li")) == 5

    # the two ridden hexagons farthest apart: the release shows people there, so the router serves them
    hexes = chrome.find_elements(By.CSS_SELECTOR, "#layer-hexagons path.hex[data-ridden=yes]")
    assert len(hexes) >= 2, status
    first, last = chrome.execute_script(
        """const hexes = arguments[0];
        const centre = (h) => {
          const b = h.getBoundingClientRect();
          return [b.x + b.width / 2, b.y + b.height / 2];
        };
        let best = [0, 0, -1];
        for (let i = 0; i < hexes.length; i += 1) for (let j = i + 1; j < hexes.length; j += 1) {
          const [a, b] = [centre(hexes[i]), centre(hexes[j])];
          const d = Math.hypot(a[0] - b[0], a[1] - b[1]);
          if (d > best[2]) best = [i, j, d];
        }
        return [best[0], best[1]];""",
        hexes,
    )
    for index in (first, last):
        ActionChains(chrome).move_to_element(hexes[index]).click().perform()

    wait.until(lambda d: _data(d, "routes") == 2 or "No route" in d.find_element(By.ID, "status").text)
    status = chrome.find_element(By.ID, "status").text
    assert _data(chrome, "routes") == 2, status
    assert chrome.find_element(By.CSS_SELECTOR, "#layer-routes polyline.safest").get_attribute("points")
    assert chrome.find_element(By.CSS_SELECTOR, "#layer-routes polyline.shortest").get_attribute("points")
    assert "Safest:" in status
    ARTIFACTS.mkdir(exist_ok=True)
    assert chrome.save_screenshot(str(ARTIFACTS / "planner-map.png"))

"""The customer portal (/portal) in a real browser: Debian's chromium driven by Selenium
through Debian's chromedriver (no browser download), headless, against the session's
``spaak-cloud serve`` (conftest.py).

Owner: sign in, see the vehicles and their state, "Show my pairing link" (a spaak:// link
with a one-time token, never the password), "E-mail me the link" (the e-mail in the
Maildir). Hotline: an agent sees the fleet and takes a request; the owner authorizes it; the
link is e-mailed. Refusals: another user's vehicle (403 page), the wrong role (403), no
session (401), a post from another site. With SPAAK_SCREENSHOT=1 the owner's page is saved
to docs/portal.png (1280×900); it is always saved under the test's tmp_path.
"""
import email
import email.policy
import mailbox
import os
import re
import shutil
from pathlib import Path

import pytest
import requests

from apipeer import parse_deep_link

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DOCS = Path(__file__).resolve().parents[2] / "docs"
LINK = re.compile(r"spaak://pair\?[^\s<>\"]+")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (scripts/setup)")
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: the portal test needs Debian's chromium and chromium-driver (scripts/setup)",
                        pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--force-device-scale-factor=1", "--lang=en-US", "--disable-gpu"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_window_size(1280, 900)
    yield driver
    driver.quit()


# --- helpers ------------------------------------------------------------------------------

def wait(driver, condition, timeout: float = 15):
    return WebDriverWait(driver, timeout).until(condition)


def next_page(driver, old) -> None:
    """Waits until the page of ``old`` (its root element) is replaced and the new one loaded.
    While chromium swaps the documents, chromedriver may answer a query on the old element
    with a generic error ("Node … does not belong to the document") rather than a stale one:
    both mean it is gone."""
    def gone(_) -> bool:
        try:
            old.is_enabled()
            return False
        except WebDriverException:  # StaleElementReferenceException is one
            return True
    wait(driver, gone)
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def submit(driver, button) -> None:
    """Clicks a form's button and waits for the next page."""
    old = driver.find_element(By.TAG_NAME, "html")
    button.click()
    next_page(driver, old)


def sign_in(driver, server, user: str, role: str = "customer") -> None:
    driver.delete_all_cookies()
    driver.get(server.url + "/portal")
    assert "simulated identity provider" in driver.page_source
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.CSS_SELECTOR, f"input[name=role][value={role}]").click()
    submit(driver, driver.find_element(By.ID, "sign-in"))
    landing = "/portal/hotline" if role == "agent" else "/portal/vehicles"
    assert driver.current_url == server.url + landing, driver.current_url
    assert f"Signed in as {user}" in driver.find_element(By.TAG_NAME, "nav").text


def session_cookie(driver) -> str:
    cookie = driver.get_cookie("spaak_session")
    assert cookie, "no session cookie after signing in"
    assert cookie["httpOnly"] is True, cookie
    assert cookie.get("sameSite") == "Strict", cookie
    assert cookie["path"] == "/portal", cookie
    assert cookie["value"].count(".") == 2, "the session is not a JWT"
    return cookie["value"]


def card(driver, vin: str):
    return driver.find_element(By.ID, f"vehicle-{vin}")


def facts(element) -> dict:
    """The vehicle card's table: label → its row's text."""
    return {row.find_element(By.TAG_NAME, "th").text: row.find_element(By.TAG_NAME, "td").text
            for row in element.find_elements(By.CSS_SELECTOR, "table.facts tr")}


def post_form(driver, path: str, fields: dict) -> None:
    """Posts a form from the current page (same origin), as a page of the portal would; no
    page of the portal offers these forms (another user's vehicle)."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.execute_script("""
        const form = document.createElement('form');
        form.method = 'post'; form.action = arguments[0];
        for (const [name, value] of Object.entries(arguments[1])) {
            const input = document.createElement('input');
            input.type = 'hidden'; input.name = name; input.value = value; form.appendChild(input);
        }
        document.body.appendChild(form); form.submit();""", path, fields)
    next_page(driver, old)


def error_page(driver) -> dict:
    section = driver.find_element(By.CSS_SELECTOR, "section.error")
    status = int(section.find_element(By.CLASS_NAME, "status").text.removeprefix("HTTP "))
    return {"status": status, "title": section.find_element(By.TAG_NAME, "h1").text,
            "detail": section.find_element(By.CLASS_NAME, "detail").text,
            "reason": section.find_element(By.CSS_SELECTOR, ".reason code").text}


def find_mail(server, message_id: str):
    box = mailbox.Maildir(str(server.mail_dir), factory=None, create=False)
    for key in box.keys():
        message = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        if message["Message-ID"] == message_id:
            return message
    pytest.fail(f"no e-mail with Message-ID {message_id} in {server.mail_dir}")


def mailed_link(server, message_id: str, vehicle) -> dict:
    message = find_mail(server, message_id)
    assert [a.addr_spec for a in message["To"].addresses] == [vehicle.email], message["To"]
    links = LINK.findall(message.get_content())
    assert len(set(links)) == 1, links
    link = parse_deep_link(links[0])
    assert link["vin"] == vehicle.vin
    server.secrets.add(link["token"])
    return link


def screenshot(driver, tmp_path: Path) -> None:
    """The page as a 1280×900 PNG (the viewport set exactly: a headless window's is smaller)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    shot = tmp_path / "portal.png"
    try:
        assert driver.save_screenshot(str(shot)), "chromium made no screenshot"
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", "not a PNG"
    size = (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big"))
    assert size == (1280, 900), f"the screenshot is {size[0]}×{size[1]}"
    assert len(png) > 10_000, "the screenshot is nearly empty"
    if os.environ.get("SPAAK_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS / "portal.png")


# --- the owner ----------------------------------------------------------------------------

def test_owner_sees_vehicles_gets_link_and_email(server, claim, browser, tmp_path):
    first = claim(user="alice.portal")
    second = claim(user="alice.portal", email="alice@example.test")
    stranger = claim()
    hotline = server.token("carol", "hotline")
    request = server.post("/v1/hotline/requests", hotline, json={"vin": second.vin})
    assert request.status_code == 201, request.text

    sign_in(browser, server, "alice.portal")
    session_cookie(browser)
    page = browser.page_source
    assert first.vin in page and second.vin in page
    assert stranger.vin not in page, "another user's vehicle is shown"
    state = facts(card(browser, first.vin))
    assert state["Plant"].startswith("ECU registered")
    assert re.fullmatch(r"[0-9A-Fa-f]{16,64}", state["drmUUID (SP-02)"]), state
    assert state["Vehicle identity [K]"].startswith("installed"), state
    assert state["Verifier (SPAKE2+)"].startswith("installed"), state
    assert state["Pairing password"].startswith("available"), state
    assert "Owner key" in state and "Last use case" in state, state
    requests_table = browser.find_element(By.CSS_SELECTOR, "table.list").text
    assert second.vin in requests_table and "awaiting-authorization" in requests_table and "carol" in requests_table

    # "Show my pairing link" → the spaak:// link, as a link and as text, no password
    submit(browser, card(browser, first.vin).find_element(By.XPATH, ".//button[text()='Show my pairing link']"))
    assert browser.current_url == server.url + f"/portal/vehicles/{first.vin}/link"
    href = browser.find_element(By.ID, "deep-link").get_attribute("href")
    text = browser.find_element(By.ID, "deep-link-text").get_attribute("value")
    assert href == text, (href, text)
    link = parse_deep_link(href)
    server.secrets.add(link["token"])
    assert link["vin"] == first.vin
    password = server.password_row(first.serial)["password"]
    assert password and password not in browser.page_source, "the link page shows the pairing password"

    # "E-mail me the link" for the other vehicle → confirmation, the e-mail in the Maildir
    browser.get(server.url + "/portal/vehicles")
    assert facts(card(browser, first.vin))["Pairing password"].startswith("link-issued")
    assert facts(card(browser, second.vin))["Pairing password"].startswith("available")
    screenshot(browser, tmp_path)
    submit(browser, card(browser, second.vin).find_element(By.XPATH, ".//button[text()='E-mail me the link']"))
    sent_to = browser.find_element(By.ID, "sent-to").text
    assert re.fullmatch(r"a\*+@example\.test", sent_to), sent_to
    message_id = browser.find_element(By.ID, "message-id").text
    mailed = mailed_link(server, message_id, second)
    assert mailed["token"] not in browser.page_source, "the confirmation page shows the mailed token"
    browser.get(server.url + "/portal/vehicles")
    assert facts(card(browser, second.vin))["Pairing password"].startswith("link-issued")


# --- the hotline --------------------------------------------------------------------------

def test_agent_request_authorized_by_owner(server, claim, browser):
    vehicle = claim(user="bob.portal")
    sign_in(browser, server, "dana.agent", role="agent")
    fleet = browser.find_element(By.CSS_SELECTOR, "table.fleet").text
    assert vehicle.vin in fleet and vehicle.serial in fleet and "bob.portal" in fleet
    count = int(re.search(r"(\d+) vehicles", browser.find_element(By.CLASS_NAME, "count").text).group(1))
    assert count >= len(browser.find_elements(By.CSS_SELECTOR, "table.fleet tbody tr")) > 0
    browser.find_element(By.ID, "vin").send_keys(vehicle.vin)
    submit(browser, browser.find_element(By.ID, "create-request"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Request created"
    request_id = browser.find_element(By.ID, "request-id").text
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert browser.find_element(By.ID, "request-state").text == "awaiting-authorization"
    browser.get(server.url + "/portal/hotline")
    assert request_id[:8] in browser.page_source

    sign_in(browser, server, "bob.portal")
    submit(browser, browser.find_element(By.CSS_SELECTOR, f"form[action='/portal/requests/{request_id}/authorize'] button"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Request authorized"
    assert browser.find_element(By.ID, "request-state").text == "sent"
    message_id = browser.find_element(By.ID, "message-id").text
    view = server.get(f"/v1/hotline/requests/{request_id}", server.token("dana.agent", "hotline")).json()
    assert view["state"] == "sent" and view["messageId"] == message_id, (message_id, view)
    mailed_link(server, view["messageId"], vehicle)

    browser.get(server.url + "/portal/vehicles")
    assert browser.find_elements(By.CSS_SELECTOR, f"form[action='/portal/requests/{request_id}/authorize']") == [], \
        "an authorized request still offers Authorize"
    submit(browser, browser.find_element(By.XPATH, "//button[text()='Sign out']"))
    assert browser.current_url == server.url + "/portal"
    assert browser.get_cookie("spaak_session") is None


# --- refusals -----------------------------------------------------------------------------

def test_other_users_vehicle_and_wrong_role_refused(server, claim, browser):
    theirs = claim(user="erin.portal")
    claim(user="frank.portal")
    sign_in(browser, server, "frank.portal")
    assert theirs.vin not in browser.page_source
    post_form(browser, f"/portal/vehicles/{theirs.vin}/link", {"action": "link"})
    problem = error_page(browser)
    assert problem["status"] == 403 and problem["reason"] == "not-owner", problem
    assert problem["title"] == "The user is not the owner of this vehicle"
    assert "spaak://" not in browser.page_source

    # the same through HTTP: the real status code, an HTML page
    cookie = session_cookie(browser)
    answer = requests.post(server.url + f"/portal/vehicles/{theirs.vin}/email", data={"action": "email"},
                           cookies={"spaak_session": cookie}, timeout=30, allow_redirects=False)
    assert answer.status_code == 403 and answer.headers["content-type"].startswith("text/html"), answer.status_code
    assert "not-owner" in answer.text and "default-src 'none'" in answer.headers["content-security-policy"]
    view = server.get(f"/v1/vehicles/{theirs.vin}", server.token(theirs.user, "portal")).json()
    assert view["password"]["state"] == "available", "a refused request changed the owner's password"

    browser.get(server.url + "/portal/hotline")
    problem = error_page(browser)
    assert problem["status"] == 403 and problem["reason"] == "role-not-allowed", problem

    sign_in(browser, server, "gina.agent", role="agent")
    browser.get(server.url + "/portal/vehicles")
    problem = error_page(browser)
    assert problem["status"] == 403 and problem["reason"] == "role-not-allowed", problem


def test_without_session_and_bad_input(server, claim, browser):
    vehicle = claim(user="hana.portal")
    browser.delete_all_cookies()
    browser.get(server.url + "/portal/vehicles")
    assert "Please sign in" in browser.page_source and browser.find_elements(By.ID, "sign-in")
    answer = requests.get(server.url + "/portal/vehicles", timeout=30, allow_redirects=False)
    assert answer.status_code == 401

    # a user name the identity provider refuses; a role that does not exist
    for form, fragment in (({"user": "Hana!", "role": "customer"}, "user name"), ({"user": "hana", "role": "owner"}, "role")):
        answer = requests.post(server.url + "/portal/sign-in", data=form, timeout=30, allow_redirects=False)
        assert answer.status_code == 400 and "Not signed in" in answer.text and fragment in answer.text, answer.text
        assert "set-cookie" not in answer.headers
    answer = requests.post(server.url + "/portal/sign-in", data={"user": "hana"}, timeout=30, allow_redirects=False)
    assert answer.status_code == 400 and "role" in answer.text
    answer = requests.post(server.url + "/portal/sign-in", data="user=" + "a" * 5000 + "&role=customer", timeout=30,
                           headers={"Content-Type": "application/x-www-form-urlencoded"}, allow_redirects=False)
    assert answer.status_code == 400

    # a hostile VIN in the path is refused and shown escaped
    sign_in(browser, server, "hana.portal")
    cookie = session_cookie(browser)
    answer = requests.post(server.url + "/portal/vehicles/%3Cb%3Ex%3C%2Fb%3E/link", data={"action": "link"},
                           cookies={"spaak_session": cookie}, timeout=30)
    assert answer.status_code in (400, 404) and "<b>x</b>" not in answer.text, answer.status_code

    # a form on another site posting to the portal: the browser keeps the cookie (SameSite=Strict), the server refuses
    other_site = ("data:text/html,<form method=post action='" + server.url + f"/portal/vehicles/{vehicle.vin}/link'>"
                  "<button id=go>go</button></form>")
    browser.get(other_site)
    submit(browser, browser.find_element(By.ID, "go"))
    problem = error_page(browser)
    assert problem["status"] in (400, 401), problem
    assert "spaak://" not in browser.page_source
    browser.get(server.url + "/portal/vehicles")
    assert facts(card(browser, vehicle.vin))["Pairing password"].startswith("available"), "the cross-site post made a link"

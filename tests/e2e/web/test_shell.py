"""The web app's shell: served by the local stack, sign-in, navigation on desktop and phone widths, sign-out."""

from __future__ import annotations

import requests

from local_stack.stack import LocalStack
from tests.e2e.web.conftest import Page, unique_user


def test_the_app_and_its_config_are_served_with_a_content_security_policy(stack: LocalStack) -> None:
    index = requests.get(f"{stack.api_url}/", timeout=10)
    assert index.status_code == 200 and index.headers["Content-Type"].startswith("text/html")
    policy = index.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and stack.endpoint in policy and stack.ws_url.rsplit("/", 1)[0] in policy
    assert requests.get(f"{stack.api_url}/assets/app.js", timeout=10).headers["Content-Type"].startswith(
        "text/javascript")
    config = requests.get(f"{stack.api_url}/config.json", timeout=10).json()
    assert config == {"auth": "local", "apiUrl": stack.api_url, "wsUrl": stack.ws_url, "storageUrl": stack.endpoint}
    # Nothing outside web/ is reachable, and unknown paths are still the API's 403.
    assert requests.get(f"{stack.api_url}/assets/../../template.yaml", timeout=10).status_code == 403
    assert requests.get(f"{stack.api_url}/nope.js", timeout=10).status_code == 403


def test_local_sign_in_issues_a_token_the_api_accepts_and_names_a_bad_field(stack: LocalStack) -> None:
    answer = requests.post(f"{stack.api_url}/_local/token", json={"user": "web-shell"}, timeout=10)
    assert answer.status_code == 200
    me = requests.get(f"{stack.api_url}/me", headers={"Authorization": f"Bearer {answer.json()['token']}"},
                      timeout=10)
    assert me.status_code == 200 and me.json()["userId"] == "web-shell"
    bad = requests.post(f"{stack.api_url}/_local/token", json={"user": "../x"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "user"
    bad = requests.post(f"{stack.api_url}/_local/token", json={"user": "ok", "groups": ["root"]}, timeout=10)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "groups"


def test_sign_in_navigate_every_page_and_sign_out(page: Page) -> None:
    page.open()
    page.wait_for("h1", text="Sign in")
    page.check("signin")
    user = unique_user("shell")
    page.sign_in(user)
    assert user in page.find("#who").text
    for route in ("library", "guess", "listen", "blend", "maps", "generate"):
        page.find(f'#nav a[href="#/{route}"]').click()
        page.wait(lambda d, r=route: d.execute_script("return location.hash") == f"#/{r}", route)
        # the nav marks the page when the router runs, on the hashchange event that follows the new hash
        page.wait(lambda d, r=route: d.execute_script(
            "const link = document.querySelector('#nav a[aria-current=\"page\"]');"
            "return link && link.getAttribute('href');") == f"#/{r}", f"the nav to mark {route} as the current page")
        page.wait_for("main h1")
    page.phone()
    for route in ("generate", "library"):
        page.go(route)
        # Nothing wider than a phone's screen: the layout wraps instead of scrolling sideways.
        assert page.driver.execute_script("return document.documentElement.scrollWidth") <= 400
    page.check("phone-library")
    page.desktop()
    page.find("#signout").click()
    page.wait_for("h1", text="Sign in")
    assert page.driver.execute_script("return sessionStorage.length") == 0

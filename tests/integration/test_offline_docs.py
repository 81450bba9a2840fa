"""/docs and /redoc work on a machine without internet: every script, style sheet and image they load
is served by the service itself, without a token."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx

from tests.integration.test_service_process import write_config
from tests.support.process import run_service


class _Assets(HTMLParser):
    """The URLs a page loads by itself: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def _loaded_urls(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    # Swagger UI's bootstrap script names its bundle and CSS in JavaScript, not in tags.
    inline = re.findall(r"""(?:url|src|href)\s*[:=]\s*['"]([^'"]+)['"]""", html)
    return parser.urls + inline


def test_docs_and_redoc_load_every_asset_from_the_service(sqlite_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path / "slo.yaml", "http://127.0.0.1:9/metrics")
    with run_service([config], sqlite_url, tmp_path) as svc:
        for page, expected in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
            response = httpx.get(svc.url + page, timeout=10)  # no token: the docs are open
            assert response.status_code == 200, (page, response.text[:200])
            urls = _loaded_urls(response.text)
            assert any(u.endswith(expected) for u in urls), (page, urls)
            for url in urls:
                assert not re.match(r"^(https?:)?//", url), f"{page} loads {url} from outside the service"
                if url.startswith("/") and not url.endswith(".json"):
                    asset = httpx.get(svc.url + url, timeout=10)
                    assert asset.status_code == 200, (page, url, asset.status_code)
                    assert len(asset.content) > 1000, (page, url)
        # the schema the pages render is the service's own
        assert httpx.get(svc.url + "/openapi.json", timeout=10).json()["info"]["title"] == "slo-service"

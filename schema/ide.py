"""GraphiQL at /graphql, served from the package itself.

Strawberry's own page loads React and GraphiQL from a CDN: on a machine without Internet access (an
intranet, an air-gapped office) it stays a blank "Loading…". Here the page and every file it uses ship in
the package (`schema/static/`, listed with their versions and licences in its README.md) and are served at
/graphql/assets/NAME, so the IDE needs nothing but this server. Each file's URL carries its digest, so a
browser may keep it for a year and still never runs an old file after an upgrade.

Only the names below are served; any other name (another file, `..`) is a 404. Should the files be missing
(a packaging mistake), /graphql says so and how to query the API without the IDE, rather than showing an
empty page.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

# What /graphql/assets/ serves: each file's name and content type.
ASSETS = {
    "react.production.min.js": "text/javascript; charset=utf-8",
    "react-dom.production.min.js": "text/javascript; charset=utf-8",
    "graphiql.min.js": "text/javascript; charset=utf-8",
    "graphiql.min.css": "text/css; charset=utf-8",
    "graphiql-page.js": "text/javascript; charset=utf-8",
    "graphiql-page.css": "text/css; charset=utf-8",
}
PAGE = "graphiql.html"
# Everything from this server; the IDE's own components set inline styles (and inject <style> elements for
# their dialogs), its stylesheet embeds its fonts and icons as data: URLs, and the fetcher's WebSocket for
# subscriptions is same-origin ('self' covers ws: and wss: on the same host).
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
ASSET_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}
MISSING = """<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>Qinglian GraphiQL is not installed</title></head>
  <body>
    <h1>GraphiQL's files are missing from this installation</h1>
    <p>This server was installed without the files of its GraphiQL page ({missing}). Reinstall the
    <code>qinglian</code> package from its wheel or source to restore them.</p>
    <p>The API works without the page: POST a JSON body such as
    <code>{{"query": "{{ city {{ name }} }}"}}</code> to this address, with
    <code>Content-Type: application/json</code> (and <code>Authorization: Bearer &lt;token&gt;</code> when
    signed in).</p>
  </body>
</html>
"""


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    digest: str


def package_files() -> Traversable:
    """The folder the files ship in, inside the installed package."""
    return resources.files("schema").joinpath("static")


@dataclass(frozen=True, slots=True)
class GraphiQLFiles:
    """The page and its files, read once; `missing` names those that could not be read."""

    assets: dict[str, Asset]
    page: Template | None
    missing: tuple[str, ...]

    @classmethod
    def read(cls, folder: Traversable) -> GraphiQLFiles:
        assets: dict[str, Asset] = {}
        missing: list[str] = []
        for name, media_type in ASSETS.items():
            try:
                body = folder.joinpath(name).read_bytes()
            except OSError:
                missing.append(name)
                continue
            assets[name] = Asset(body, media_type, hashlib.sha256(body).hexdigest()[:16])
        try:
            page: Template | None = Template(folder.joinpath(PAGE).read_text(encoding="utf-8"))
        except OSError:
            page = None
            missing.append(PAGE)
        return cls(assets, page, tuple(missing))

    def render(self, path: str) -> Response:
        """The IDE's page as served at `path` (the GraphQL endpoint's own), its files under `path`/assets."""
        if self.page is None or self.missing:
            text = MISSING.format(missing=html.escape(", ".join(self.missing)))
            return HTMLResponse(text, status_code=503, headers={"Cache-Control": "no-cache"})

        def url(name: str) -> str:
            return html.escape(f"{path}/assets/{name}?v={self.assets[name].digest}")

        text = self.page.substitute(
            react=url("react.production.min.js"),
            react_dom=url("react-dom.production.min.js"),
            graphiql_js=url("graphiql.min.js"),
            graphiql_css=url("graphiql.min.css"),
            page_js=url("graphiql-page.js"),
            page_css=url("graphiql-page.css"),
        )
        return HTMLResponse(text, headers=PAGE_HEADERS)

    async def serve(self, request: Request) -> Response:
        """GET /graphql/assets/NAME: one of the listed files, or 404."""
        asset = self.assets.get(request.path_params["name"])
        if asset is None:
            return PlainTextResponse("Not Found", status_code=404)
        return Response(asset.body, media_type=asset.media_type, headers=ASSET_HEADERS)


@cache
def shipped() -> GraphiQLFiles:
    """The files as installed with the package, read on first use and kept (about 4 MB)."""
    return GraphiQLFiles.read(package_files())

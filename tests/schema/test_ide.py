"""GraphiQL's files: shipped inside the installed package with their licences, listed truthfully in its
README, and, should an install lack them, a page that says what to do instead of an empty one."""

from __future__ import annotations

import hashlib
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from schema.ide import ASSETS, PAGE, GraphiQLFiles, package_files, shipped

ROOT = Path(__file__).resolve().parents[2]
# The files taken from npm, and the licence text each is shipped with.
FROM_NPM = {
    "graphiql.min.js": "LICENSE.graphiql",
    "graphiql.min.css": "LICENSE.graphiql",
    "react.production.min.js": "LICENSE.react",
    "react-dom.production.min.js": "LICENSE.react",
}


def test_every_file_the_page_loads_is_found_through_the_installed_package() -> None:
    folder = package_files()
    for name in [*ASSETS, PAGE, "README.md", *FROM_NPM.values()]:
        assert folder.joinpath(name).is_file(), name
        assert folder.joinpath(name).read_bytes(), name
    files = shipped()
    assert () == files.missing
    assert set(ASSETS) == set(files.assets)


def test_the_package_data_puts_every_file_in_the_wheel() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["schema"]
    shipped_names = [
        path.name
        for path in (ROOT / "schema" / "static").iterdir()
        if any(fnmatch(f"static/{path.name}", pattern) for pattern in patterns)
    ]
    assert {*ASSETS, PAGE, "README.md", *FROM_NPM.values()} <= set(shipped_names)


def test_the_readme_names_each_npm_file_with_its_package_version_licence_and_digest() -> None:
    folder = package_files()
    readme = folder.joinpath("README.md").read_text(encoding="utf-8")
    for name, licence in FROM_NPM.items():
        row = re.search(rf"^\| {re.escape(name)} \| (.+) \|$", readme, re.MULTILINE)
        assert row is not None, name
        package, version, kind, text, digest = (cell.strip() for cell in row[1].split("|"))
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), row[0]
        assert "MIT" == kind
        assert licence == text
        assert "MIT License" in folder.joinpath(text).read_text(encoding="utf-8")
        assert hashlib.sha256(folder.joinpath(name).read_bytes()).hexdigest() == digest, name
        assert package in {"graphiql", "react", "react-dom"}


def test_the_page_names_each_file_by_its_digest_and_escapes_the_path() -> None:
    files = shipped()
    page = files.render('/x"<y>/graphql')
    text = bytes(page.body).decode()
    assert 200 == page.status_code
    assert '"<y>' not in text
    for name, asset in files.assets.items():
        assert f"/x&quot;&lt;y&gt;/graphql/assets/{name}?v={asset.digest}" in text


def test_without_its_files_the_page_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "graphiql.min.js").write_text("window.GraphiQL = null;")
    page = GraphiQLFiles.read(tmp_path).render("/graphql")
    text = bytes(page.body).decode()
    assert 503 == page.status_code
    assert "text/html" in page.headers["content-type"]
    assert "missing" in text
    assert "react.production.min.js" in text
    assert "graphiql.html" in text
    assert "Reinstall" in text
    assert '{"query": "{ city { name } }"}' in text
    assert "<script" not in text

"""The page's own files: ES modules under static/js (small, importing only each other, building no SQL), served
with a JavaScript type, revalidated, behind a strict content-security policy, and never from outside the folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_fixtures import make_served_index

from editsearch.serve import create_app
from editsearch.serve.routers.page import STATIC_DIR

HOSTS = ["testserver"]
MAX_LINES = 300
WINDOW = {"devicePixelRatio", "addEventListener", "editsearchAtlas"}  # the last: the Atlas's hook for tests
IMPORT = re.compile(r'^import\s+[^;]*?\s+from\s+"([^"]+)";', re.M)
# SQL the page must not build: facets travel as meta.KEY=VALUE parameters, bound by the server
SQL = {
    "a JSON path into metadata": re.compile(r"json_extract"),
    "a SQL keyword": re.compile(r"\b(SELECT|WHERE|FROM edits)\b"),
    "clauses joined in a string": re.compile(r"""["'`]\s*\)?\s*(AND|OR)\s*\(?\s*["'`]"""),
    "a quote escaped for SQL": re.compile(r"""replaceAll\(\s*"'"\s*,\s*"''"\s*\)"""),
    "a compare built as text": re.compile(r"""["'`]=\s*'?["'`]\s*\+"""),
}
# what the page once sent: the patterns must catch it
ONCE = [
    "`json_extract(metadata, '$.${key}') ${sqlLiteral(key, value)}`",
    'return parts.join(" AND ");',
    """return "= '" + String(typed).replaceAll("'", "''") + "'";""",
    'if (typeof typed === "number") return "= " + typed;',
]


def scripts() -> list[Path]:
    found = sorted(STATIC_DIR.rglob("*.js"))
    assert len(found) >= 10, "the page is ES modules under static/js"
    return found


def test_every_script_of_the_page_is_at_most_300_lines():
    long = {str(p.relative_to(STATIC_DIR)): n for p in scripts() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"scripts over {MAX_LINES} lines: {long}"


def test_the_page_builds_no_sql():
    for sample in ONCE:
        assert any(pattern.search(sample) for pattern in SQL.values()), sample
    files = [*scripts(), STATIC_DIR / "index.html"]
    found = [
        f"{path.relative_to(STATIC_DIR)}:{n}: {what}"
        for path in files
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for what, pattern in SQL.items()
        if pattern.search(line)
    ]
    why = "facets go as meta.KEY=VALUE; the page passes the user's own `where` as typed"
    assert not found, why + ":\n" + "\n".join(found)


def test_the_modules_import_each_other_only_and_all_are_used():
    page = (STATIC_DIR / "index.html").read_text()
    assert re.findall(r"<script[^>]*>", page) == ['<script type="module" src="/static/js/main.js">']
    seen, todo = set(), [STATIC_DIR / "js" / "main.js"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        text = path.read_text()
        assert set(re.findall(r"\bwindow\.(\w+)", text)) <= WINDOW, f"{path.name} shares through window"
        for target in IMPORT.findall(text):
            assert target.startswith("."), f"{path.name} imports {target}: the page loads nothing from elsewhere"
            resolved = (path.parent / target).resolve()
            assert resolved.is_file(), f"{path.name} imports {target}, which is not there"
            todo.append(resolved)
    assert seen == {p.resolve() for p in scripts()}, "every script is a module that main.js reaches"


@pytest.fixture(scope="module")
def client(tmp_path_factory, tiny_model_dir):
    index_dir = make_served_index(tmp_path_factory.mktemp("page"), tiny_model_dir)
    with TestClient(create_app(index_dir, allowed_hosts=HOSTS, token="s3cret", readers=1)) as c:
        yield c


def test_the_modules_are_served_as_javascript_without_the_token(client):
    for path in scripts():
        url = "/static/" + path.relative_to(STATIC_DIR).as_posix()
        response = client.get(url)
        assert response.status_code == 200 and response.text == path.read_text(), url
        assert response.headers["content-type"].split(";")[0] == "text/javascript", url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-cache"  # revalidated: never one release's modules mixed
    main = client.get("/static/js/main.js")
    assert client.get("/static/js/main.js", headers={"If-None-Match": main.headers["etag"]}).status_code == 304
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")


def test_the_page_has_a_strict_content_security_policy(client):
    page = client.get("/?token=s3cret")
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert "unsafe-eval" not in page.headers["content-security-policy"]
    assert 'style="' not in page.text and "<script>" not in page.text  # nothing inline for the policy to refuse


@pytest.mark.parametrize(
    "path",
    [
        "/static/js/%2e%2e/%2e%2e/app.py",
        "/static/js/atlas/..%2f..%2f..%2fapp.py",
        "/static/..%2frouters%2fpage.py",
        "/static/%2e%2e/__init__.py",
        "/static/js/%2fetc%2fpasswd",
        "/static/js/missing.js",
    ],
)
def test_nothing_outside_the_static_folder_is_served(client, path):
    response = client.get(path)
    assert response.status_code == 404 and "def " not in response.text and "root:" not in response.text


def test_dot_segments_inside_the_folder_still_resolve(client):
    response = client.get("/static/js/atlas/%2e%2e/%2e%2e/style.css")  # the paths above reached the lookup too
    assert response.status_code == 200 and response.text == (STATIC_DIR / "style.css").read_text()

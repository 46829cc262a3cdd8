"""The Problems view of `serve --audit` and the audit's report.html in a real browser (Playwright drives Chromium)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

from browser_fixtures import LOADED, close_dialog, serving
from click.testing import CliRunner
from serve_fixtures import audited_index

from editsearch.cli.main import cli

SUMMARY_STARTS = "(t) => document.querySelector('#summary').textContent.startsWith(t)"

# the words (hyphen-joined parts apart) that a line break cuts although they would fit on a line of their own,
# and how many text nodes run over several lines
SPLIT_WORDS = """() => {
  const split = [];
  let wrapped = 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const box = node.parentElement.getBoundingClientRect();
    const lines = new Set();
    for (const m of node.data.matchAll(/[^\\s\\-]+/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const rects = Array.from(range.getClientRects()).filter((r) => r.width > 0);
      const width = rects.reduce((sum, r) => sum + r.width, 0);
      if (new Set(rects.map((r) => Math.round(r.top))).size > 1 && width <= box.width) split.push(m[0]);
      if (rects.some((r) => r.right > box.right + 1)) split.push("overflows: " + m[0]);
      rects.forEach((r) => lines.add(Math.round(r.top)));
    }
    if (lines.size > 1) wrapped += 1;
  }
  return { split, wrapped };
}"""


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def query_of(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query, keep_blank_values=True)


def test_the_problems_view_lists_flagged_edits_and_opens_them(tmp_path, tiny_model_dir, page):
    index, _, noop_id = audited_index(tmp_path, tiny_model_dir)
    out = tmp_path / "every"  # every edit flagged as mismatched too: 11 edits flagged, 12 flags
    audited = run("audit", "--index", index, "--out", out, "--checks", "noop,mismatch", "--threshold", "mismatch=-1000")
    summary = json.loads((out / "summary.json").read_text())
    assert audited.exit_code == 0 and summary["flagged_any"] == 11, audited.output
    assert [c["flagged"] for c in summary["checks"].values()] == [1, 11]
    noop_threshold = summary["checks"]["noop"]["threshold"]["value"]
    with serving(index, tmp_path, "--audit", str(out)) as url:
        page.goto(url)
        page.wait_for_selector("#problems:not([hidden])")
        assert page.locator("#problems").text_content() == "Problems: 11 edits flagged"
        page.click("#problems")
        page.wait_for_function(SUMMARY_STARTS, arg="Problems")
        assert query_of(page) == {"problems": ["all"]}
        assert "11 of 11 edits flagged · 12 flags (an edit can fail several checks)" in page.text_content("#summary")
        heads = page.locator(".problem-head").all_text_contents()
        assert heads == [
            f"noop: 1 edit flagged, score over {noop_threshold:.3f}",
            "mismatch: 11 edits flagged, score over -1000.000",
        ]
        notes = page.locator(".problem-note").all_text_contents()  # what each check flags, and how far to trust it
        assert notes[0].startswith("Flags: the after is the before") and "Reliable on this collection" in notes[0]
        assert "Not reliable on this collection" in notes[1] and "from the threshold given alone" in notes[1]
        assert summary["checks"]["mismatch"]["why"][1:] in notes[1]  # the server's reason, capitalised
        first = page.locator(".card").first
        assert first.get_attribute("data-id") == str(noop_id) and not first.locator(".suggestion").count()
        assert re.fullmatch(
            rf"noop -?\d+\.\d{{3}} > {re.escape(f'{noop_threshold:.3f}')}", first.locator(".score").text_content()
        )
        mismatched = page.locator(".card").nth(1)
        assert re.fullmatch(r"mismatch -?\d+\.\d{3} > -1000\.000", mismatched.locator(".score").text_content())
        suggestion = mismatched.locator(".suggestion").text_content()
        instructions = set(page.locator(".card .instruction").all_text_contents())
        assert suggestion.removeprefix("Suggested instruction: ") in instructions
        first.click()
        page.wait_for_function(LOADED, arg="#d-before, #d-after")
        assert page.locator("#d-id").text_content() == f"#{noop_id}"
        close_dialog(page)
        page.go_back()
        page.wait_for_function("!document.querySelector('#summary').textContent.startsWith('Problems')")
        assert "problems" not in query_of(page)


def test_a_stale_audit_says_so_and_an_unusable_one_turns_the_view_off(tmp_path, tiny_model_dir, page):
    index, out, _ = audited_index(tmp_path, tiny_model_dir)
    assert run("remove", "1", "--index", index).exit_code == 0  # the index moves on after the audit
    with serving(index, tmp_path, "--audit", str(out)) as url:
        page.goto(url)
        page.wait_for_selector("#problems:not([hidden])")
        assert page.locator("#problems").text_content().endswith("flagged (stale)")
        page.click("#problems")
        page.wait_for_function(SUMMARY_STARTS, arg="Problems")
        assert page.text_content("#message").startswith("This audit is stale: the index changed since the audit")
        (out / "summary.json").write_text("[]")  # the audit folder is damaged while serving
        page.goto(url)
        page.wait_for_selector("#problems:not([hidden])")
        assert page.locator("#problems").text_content() == "Problems: off"
        page.click("#problems")
        page.wait_for_selector("#message.error")
        message = page.text_content("#message")
        assert "Problems view is off" in message and "summary.json" in message and str(tmp_path) not in message
        page.fill("#q", "brighter")  # everything else works
        page.click("#search-form button[type=submit]")
        page.wait_for_function("(t) => document.querySelector('#summary').textContent.includes(t)", arg="“brighter”")
        assert page.locator(".card").count() > 0


def test_the_report_breaks_lines_between_words(page):
    from editsearch.audit.files import report_html

    how = "2-component mixture: problem cluster 4.2% at 3.1, the rest at 0.2 (sd 0.31; 6.0 sd apart); the threshold is"
    summary = {
        "index": "/data/indexes/holiday-photos",
        "edits": 2,
        "flagged_any": 2,
        "duplicate_groups": 0,
        "cross_source_groups": [],
        "failed": [],
        "notes": [],
        "checks": {"mismatch": {"scored": 2, "flagged": 2, "threshold": {"value": 1.5, "how": how * 3}}},
    }
    row = {
        "before": "/nowhere/before.png",
        "after": "/nowhere/after.png",
        "mismatch_score": 2.5,
        "is_mismatch": True,
        "instruction": "add falling snow over the whole scene and make the sky a little darker",
        "suggested_instruction": "turn the photograph into a soft watercolour painting with visible brush strokes",
        "source": "manifest.jsonl",
        "origin": "/data/an_origin_folder_whose_name_is_far_longer_than_any_line_of_a_card/manifest.jsonl",
    }
    page.set_viewport_size({"width": 700, "height": 900})
    page.set_content(report_html([{**row, "id": 1}, {**row, "id": 2}], summary, 96))
    found = page.evaluate(SPLIT_WORDS)
    assert found["split"] == [] and found["wrapped"] >= 4, found

#!/usr/bin/env python3
"""Opens a trailsight HTML report in headless Chromium and checks it works in a real browser.

Checks: no console error and no page error; the page made no network request beyond itself;
exactly N insight sections, each with its chart (an <svg class="chart"> with a calls line);
the tables sort on a header click and filter on typed text. Prints how long the page took to
load (navigation timing: load event end), and saves a screenshot when asked.

Usage: check_report.py REPORT.html --insights N [--screenshot OUT.png]
Needs Debian's chromium (/usr/bin/chromium) and playwright (scripts/test-env.sh installs both).
"""
import argparse
import os
import shutil
import sys

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sys.exit("check_report: playwright is missing; run `bash scripts/test-env.sh` (or `make test-env`)")


def chromium_path():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("check_report: chromium is missing; run `bash scripts/test-env.sh` (apt-get install chromium)")


def check_table(page, table_id, fail):
    """Sorts the table by its first column both ways and filters it by a word of its first row."""
    rows = page.locator(f"#{table_id} tbody tr")
    count = rows.count()
    if count == 0:
        return
    head = page.locator(f"#{table_id} thead th").first
    firsts = lambda: page.eval_on_selector_all(  # noqa: E731
        f"#{table_id} tbody tr", "rows => rows.map(r => r.cells[0].textContent.trim())")
    head.click()
    up = firsts()
    if up != sorted(up):
        fail(f"{table_id}: a click on the first header does not sort ascending")
    head.click()
    down = firsts()
    if down != sorted(down, reverse=True):
        fail(f"{table_id}: a second click does not sort descending")
    word = page.locator(f"#{table_id} tbody tr").first.locator("td").nth(1).inner_text().strip()
    page.fill(f"input[data-table='{table_id}']", word)
    visible = page.eval_on_selector_all(
        f"#{table_id} tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.textContent)")
    if not visible or any(word.lower() not in v.lower() for v in visible):
        fail(f"{table_id}: filtering by {word!r} shows rows without it, or none")
    page.fill(f"input[data-table='{table_id}']", "")
    if page.eval_on_selector_all(f"#{table_id} tbody tr", "rows => rows.filter(r => r.hidden).length"):
        fail(f"{table_id}: clearing the filter leaves rows hidden")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report")
    p.add_argument("--insights", type=int, required=True, help="insight sections expected")
    p.add_argument("--screenshot", help="save a full-page PNG here")
    a = p.parse_args()
    url = "file://" + os.path.abspath(a.report)
    problems = []
    fail = problems.append
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: m.type == "error" and fail(f"console error: {m.text}"))
        page.on("pageerror", lambda e: fail(f"page error: {e}"))
        page.on("request", lambda r: r.url != url and fail(f"network request: {r.url}"))
        page.goto(url, wait_until="load")
        load_ms = page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; }")
        sections = page.locator("section.insight").count()
        if sections != a.insights:
            fail(f"{sections} insight sections, expected {a.insights}")
        without = page.eval_on_selector_all(
            "section.insight",
            "ss => ss.filter(s => !s.querySelector('svg.chart polyline.calls')).map(s => s.id)")
        if without:
            fail(f"{len(without)} insights without a chart, e.g. {without[:3]}")
        for table in page.eval_on_selector_all("table.sortable", "ts => ts.map(t => t.id)"):
            check_table(page, table, fail)
        if a.screenshot:
            page.screenshot(path=a.screenshot, full_page=sections <= 50)
        browser.close()
    for problem in problems:
        print(f"check_report: {a.report}: {problem}", file=sys.stderr)
    print(f"check_report: {a.report}: {sections} insights, loaded in {load_ms / 1000:.2f} s"
          + ("" if problems else ", no problem"))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

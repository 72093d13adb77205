"""The workbench in a real browser (headless Chromium through Selenium).

Usage: workbench.py BASE_URL CHECK [ARGUMENT]
  sparql               run a query, read the table, draw the result as a graph
  entity IRI MODEL     open an entity, its scores, and why MODEL scored it
  models               the models page: top scored entities and the histogram
  ask QUESTION ANSWER  ask a question; ANSWER is among the answers, paths drawn
Fails on any script error in the console, and on any resource from another origin.
With KGFUSE_SCREENSHOTS=DIR, saves the page as DIR/CHECK.png.
"""

import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

base, check, arguments = sys.argv[1], sys.argv[2], sys.argv[3:]

options = webdriver.ChromeOptions()
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--window-size=1400,1000"):
    options.add_argument(flag)
options.binary_location = "/usr/bin/chromium"
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(browser, 30)


def count(selector):
    return len(browser.find_elements(By.CSS_SELECTOR, selector))


def until(condition, what):
    try:
        wait.until(lambda _: condition())
    except Exception:
        raise AssertionError(f"{what}; page text:\n{browser.find_element(By.TAG_NAME, 'body').text}")


try:
    browser.get(base + "/")
    until(lambda: "quads" in browser.find_element(By.ID, "status").text, "the status line")
    if check == "sparql":
        browser.execute_script(
            "document.querySelector('.CodeMirror').CodeMirror.setValue(arguments[0])",
            "SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER(isIRI(?o)) } ORDER BY ?s ?p ?o",
        )
        browser.find_element(By.ID, "run").click()
        until(lambda: count("#query-table tr") > 1, "result rows")
        rows = count("#query-table tr") - 1
        assert "rows" in browser.find_element(By.ID, "query-info").text
        assert count(".CodeMirror .cm-keyword") > 0, "SPARQL keywords are highlighted"
        browser.find_element(By.CSS_SELECTOR, "input[name=view][value=graph]").click()
        browser.find_element(By.ID, "run").click()
        until(lambda: count("#query-graph g.node") > 1, "the result graph")
        assert count("#query-graph g.link") > 0
        # A syntax error is shown, with its position.
        browser.execute_script("document.querySelector('.CodeMirror').CodeMirror.setValue('SELECT ?s WHERE {')")
        browser.find_element(By.ID, "run").click()
        until(lambda: "400" in browser.find_element(By.ID, "query-error").text, "the error")
        print(f"sparql ok: {rows} rows")
    elif check == "entity":
        iri, model = arguments
        browser.get(base + "/#entity?iri=" + iri)
        until(lambda: count("#entity h2") == 1 and count("#entity button") > 0, "the entity and its scores")
        browser.find_element(By.CSS_SELECTOR, "#entity button").click()
        until(lambda: count("#explain-graph g.node") > 1, "the explanation graph")
        assert count("#explanation .path") > 0, "explanation paths"
        # Edge labels sit on their own boxes, inside the drawing.
        time.sleep(1)
        boxes = browser.execute_script(
            "return Array.from(document.querySelectorAll('#explain-graph g.link rect')).map(r => r.getBBox().width)")
        assert boxes and all(w > 0 for w in boxes), boxes
        print("entity ok")
    elif check == "models":
        browser.get(base + "/#models")
        until(lambda: count(".model table tr") > 1, "the top scored entities")
        assert count(".hist rect") == 10, "ten histogram bins"
        print("models ok")
    elif check == "ask":
        question, answer = arguments
        browser.get(base + "/#ask")
        box = browser.find_element(By.ID, "question")
        box.send_keys(question)
        browser.find_element(By.CSS_SELECTOR, "#ask-form button").click()
        until(lambda: count("#answers li") > 0, "answers")
        text = browser.find_element(By.ID, "answers").text
        assert answer in text, text
        until(lambda: count("#ask-graph g.node") > 1, "the answer paths drawn")
        print("ask ok")
    else:
        raise SystemExit(f"unknown check {check}")
    # Script errors fail the check; failed requests are the checks' own
    # business (the syntax error above is a 400 on purpose).
    errors = [e for e in browser.get_log("browser")
              if e["level"] == "SEVERE" and e.get("source") != "network"]
    assert not errors, errors
    foreign = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => !n.startsWith(location.origin))")
    assert not foreign, f"fetched from elsewhere: {foreign}"
    folder = os.environ.get("KGFUSE_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        browser.save_screenshot(os.path.join(folder, check + ".png"))
finally:
    browser.quit()

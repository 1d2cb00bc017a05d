"""The search page of `colpali serve` in a real browser (headless Chromium
over WebDriver): search, ranked thumbnails, a page with its heat map, an
upload that becomes searchable. Run by scripts/check-serve.sh, which starts
the server and the ingest daemon; screenshots go to --screenshots.

Each step waits for what a person would wait for, and fails with what the
page showed instead.
"""
import argparse
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True, help="a write-scoped API key, entered in the page for the upload")
    parser.add_argument("--upload", required=True, help="a PDF to upload")
    parser.add_argument("--question", default="What is the revenue?")
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)

    options = Options()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                 "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    wait = WebDriverWait(driver, 60)
    shot = lambda name: driver.save_screenshot(os.path.join(args.screenshots, name + ".png"))
    try:
        driver.get(args.url)
        wait.until(EC.title_contains("colpali-pg"))
        shot("1-loaded")

        # Search: ranked thumbnails with scores, their images loaded.
        driver.find_element(By.ID, "question").send_keys(args.question)
        driver.find_element(By.ID, "search-button").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results .hit img")
                   or "error" in d.find_element(By.ID, "status").get_attribute("class"))
        status = driver.find_element(By.ID, "status")
        assert "error" not in status.get_attribute("class"), "search failed: " + status.text
        hits = driver.find_elements(By.CSS_SELECTOR, "#results .hit")
        ranks = [h.find_element(By.CLASS_NAME, "rank").text for h in hits]
        scores = [float(h.find_element(By.CLASS_NAME, "score").text) for h in hits]
        assert ranks and ranks[0].startswith("#1"), ranks
        assert scores == sorted(scores, reverse=True), "results are not ranked by score: %s" % scores
        wait.until(lambda d: all(i.get_property("naturalWidth") > 0
                                 for i in d.find_elements(By.CSS_SELECTOR, "#results .hit img")))
        before = {h.get_attribute("data-page-id") for h in hits}
        shot("2-results")

        # Open the best page: the heat map loads, with the question's tokens.
        hits[0].click()
        wait.until(EC.visibility_of_element_located((By.ID, "viewer")))
        wait.until(lambda d: d.find_element(By.ID, "viewer-image").get_property("naturalWidth") > 0)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#tokens .token")) > 1)
        tokens = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#tokens .token")]
        assert tokens[0] == "whole question" and not any("pad" in t for t in tokens), tokens
        shot("3-heatmap")
        first_map = driver.find_element(By.ID, "viewer-image").get_attribute("src")
        driver.find_elements(By.CSS_SELECTOR, "#tokens .token")[1].click()
        wait.until(lambda d: d.find_element(By.ID, "viewer-image").get_attribute("src") not in (None, "", first_map)
                   and d.find_element(By.ID, "viewer-image").get_property("naturalWidth") > 0)
        shot("4-token-map")
        driver.find_element(By.ID, "viewer-close").click()

        # Upload with the write key: queued, ingested by the daemon, then found.
        driver.find_element(By.ID, "key-button").click()
        driver.find_element(By.ID, "api-key").send_keys(args.key)
        driver.find_element(By.ID, "key-save").click()
        driver.find_element(By.ID, "upload-file").send_keys(os.path.abspath(args.upload))
        driver.find_element(By.ID, "upload-button").click()
        upload_status = driver.find_element(By.ID, "upload-status")
        WebDriverWait(driver, 240).until(lambda d: "searchable" in upload_status.text or "error" in upload_status.get_attribute("class"))
        assert "searchable" in upload_status.text, "upload failed: " + upload_status.text
        shot("5-uploaded")
        driver.find_element(By.ID, "search-button").click()
        wait.until(lambda d: {h.get_attribute("data-page-id") for h in d.find_elements(By.CSS_SELECTOR, "#results .hit")} - before)
        wait.until(lambda d: all(i.get_property("naturalWidth") > 0
                                 for i in d.find_elements(By.CSS_SELECTOR, "#results .hit img")))
        shot("6-found-after-upload")
        print("browser test: search, heat map, upload and search again all passed; screenshots in", args.screenshots)
    except Exception:
        shot("failure")
        print("page status:", driver.find_element(By.ID, "status").text, file=sys.stderr)
        print("upload status:", driver.find_element(By.ID, "upload-status").text, file=sys.stderr)
        for entry in driver.get_log("browser"):
            print("browser console:", entry, file=sys.stderr)
        raise
    finally:
        driver.quit()


if __name__ == "__main__":
    main()

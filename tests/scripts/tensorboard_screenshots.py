"""Screenshots of TensorBoard's HParams views in a real headless Chromium.

    npm install @sparticuz/chromium   # Chromium, extracted to /tmp/chromium:
    node -e "require('@sparticuz/chromium').executablePath().then(console.log)"
    pip install playwright
    tensorboard --logdir runs/tb_check --port 6006 &
    python tests/scripts/tensorboard_screenshots.py docs [TRIAL_REGEX]

Writes OUT/tensorboard_hparams_table.png and
OUT/tensorboard_hparams_parallel.png, and prints the lines of the table
view that match TRIAL_REGEX (default: every line with a "/", the trial
IDs of runs in subfolders) and the metric columns it offers. Not part of
the test suite (it needs a browser and a server).
"""

import asyncio
import re
import sys

from playwright.async_api import async_playwright

CHROMIUM = "/tmp/chromium"
URL = "http://localhost:6006/#hparams"


async def main(out: str, trials: str) -> None:
  async with async_playwright() as p:
    browser = await p.chromium.launch(
      executable_path=CHROMIUM,
      args=["--no-sandbox", "--single-process", "--disable-gpu", "--no-zygote"],
    )
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    await page.goto(URL, wait_until="networkidle")
    await page.wait_for_timeout(4000)
    await page.screenshot(path=f"{out}/tensorboard_hparams_table.png")
    # Playwright's CSS locators pierce the table's shadow DOM.
    cells = [
      c.strip() for c in await page.locator(".table-cell").all_inner_texts()
    ]
    print("trials in the table:", [c for c in cells if re.search(trials, c)])
    print(
      "metric columns:", sorted({c for c in cells if c.startswith("best ")})
    )
    await page.get_by_text("PARALLEL COORDINATES VIEW").first.click()
    await page.wait_for_timeout(4000)
    await page.screenshot(path=f"{out}/tensorboard_hparams_parallel.png")
    await browser.close()


if __name__ == "__main__":
  asyncio.run(
    main(
      sys.argv[1] if len(sys.argv) > 1 else ".",
      sys.argv[2] if len(sys.argv) > 2 else "/",
    )
  )

"""Screenshots of TensorBoard's HParams views in a real headless Chromium.

    npm install @sparticuz/chromium   # Chromium, extracted to /tmp/chromium:
    node -e "require('@sparticuz/chromium').executablePath().then(console.log)"
    pip install playwright
    tensorboard --logdir runs/tb_check --port 6006 &
    python tests/scripts/tensorboard_screenshots.py docs

Writes OUT/tensorboard_hparams_table.png and
OUT/tensorboard_hparams_parallel.png, and prints the trial IDs the table
shows. Not part of the test suite (it needs a browser and a server).
"""

import asyncio
import sys

from playwright.async_api import async_playwright

CHROMIUM = "/tmp/chromium"
URL = "http://localhost:6006/#hparams"


async def main(out: str) -> None:
  async with async_playwright() as p:
    browser = await p.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--single-process", "--disable-gpu",
              "--no-zygote"])
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    await page.goto(URL, wait_until="networkidle")
    await page.wait_for_timeout(4000)
    await page.screenshot(path=f"{out}/tensorboard_hparams_table.png")
    rows = await page.locator("text=/^tb_check/").all_inner_texts()
    print("trials in the table:", rows)
    await page.get_by_text("PARALLEL COORDINATES VIEW").first.click()
    await page.wait_for_timeout(4000)
    await page.screenshot(path=f"{out}/tensorboard_hparams_parallel.png")
    await browser.close()


if __name__ == "__main__":
  asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "."))

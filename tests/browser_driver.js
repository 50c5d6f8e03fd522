// A headless Chromium driven by Playwright, one command per line on stdin, one answer per line on
// stdout: {"id", "op", ...args} -> {"id", "value"} or {"id", "error"}. The test (tests/browser.py)
// decides what to do and checks what comes back; this only carries out the steps.
"use strict";

const readline = require("readline");
const { chromium } = require("playwright-core");

let browser = null;
let context = null;
let page = null;
const consoleLines = [];

const ops = {
  async launch({ executable, args }) {
    browser = await chromium.launch({ executablePath: executable, headless: true, args });
    return browser.version();
  },
  async newPage({ viewport }) {
    if (context) await context.close();
    consoleLines.splice(0);
    context = await browser.newContext({ viewport });
    page = await context.newPage();
    page.on("console", (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => consoleLines.push(`pageerror: ${error.message}`));
    return true;
  },
  async goto({ url }) {
    const response = await page.goto(url, { waitUntil: "load" });
    return response ? response.status() : null;
  },
  async fill({ selector, text }) {
    await page.fill(selector, text);
    return true;
  },
  async click({ selector }) {
    await page.click(selector);
    return true;
  },
  async press({ selector, key }) {
    await page.press(selector, key);
    return true;
  },
  async type({ text }) {
    await page.keyboard.type(text);
    return true;
  },
  async waitFor({ selector, state, timeout }) {
    await page.waitForSelector(selector, { state: state || "visible", timeout });
    return true;
  },
  async waitForText({ selector, text, timeout }) {
    await page.waitForFunction(
      ([sel, want]) => {
        const element = document.querySelector(sel);
        return element !== null && element.textContent.includes(want);
      },
      [selector, text],
      { timeout, polling: 100 },
    );
    return true;
  },
  async text({ selector }) {
    return page.textContent(selector);
  },
  async evaluate({ expression }) {
    return page.evaluate(expression);
  },
  async content() {
    return page.content();
  },
  async url() {
    return page.url();
  },
  async cookies() {
    return context.cookies();
  },
  async screenshot({ path }) {
    await page.screenshot({ path, fullPage: false });
    return path;
  },
  async consoleLines() {
    return consoleLines.splice(0);
  },
  async close() {
    if (browser) await browser.close();
    browser = null;
    return true;
  },
};

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const request = JSON.parse(line);
  let answer;
  try {
    answer = { id: request.id, value: await ops[request.op](request) };
  } catch (error) {
    answer = { id: request.id, error: String(error && error.stack ? error.stack : error) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
lines.on("close", async () => {
  if (browser) await browser.close();
  process.exit(0);
});

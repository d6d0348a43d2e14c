// End to end in headless Chromium (Debian's, driven by playwright-core): the dashboard at `/`
// of the running server, through the browser SDK. Signs up, is refused a second sign-up with
// the same e-mail, signs in, starts and completes an item, sees the recommendations move on
// with their reasons, answers the questionnaire, accepts an organization admin's invitation,
// and saves a screenshot.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

const server = process.env.CYBERHUB_TEST_HTTP;
if (!server) throw new Error("CYBERHUB_TEST_HTTP (the server to test) is not set");
const shot = process.env.CYBERHUB_SCREENSHOT ?? "dashboard.png";
const timeout = 30_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => m.type() === "error" && console.log(`[browser] ${m.text()}`));
page.setDefaultTimeout(timeout);

async function step(name, body) {
  const t = Date.now();
  await body();
  console.log(`ok - ${name} (${Date.now() - t} ms)`);
}

const email = `e2e-${Date.now()}@example.org`;
const password = "dashboard-e2e-2026";

async function signUp(lastName) {
  const f = page.locator("#signup-form");
  await f.locator("[name=first_name]").fill("Eve");
  await f.locator("[name=last_name]").fill(lastName);
  await f.locator("[name=email]").fill(email);
  await f.locator("[name=password]").fill(password);
  await f.locator("button[type=submit]").click();
}

try {
  await step("the dashboard loads the SDK and offers sign-in and sign-up", async () => {
    await page.goto(`${server}/`);
    await page.waitForSelector("body[data-ready=true]");
    await page.waitForSelector("#auth", { state: "visible" });
  });

  await step("sign up", async () => {
    await signUp("Browser");
    await page.waitForSelector("#app", { state: "visible" });
    assert.equal(await page.textContent("#who-name"), "Eve Browser");
  });

  await step("a cold-start list of recommendations with reasons", async () => {
    await page.waitForSelector("#recommendations li");
    assert.match(await page.textContent("#recs-kind"), /Starters/);
    for (const reason of await page.locator("#recommendations .reason").allTextContents()) {
      assert.ok(reason.trim().length > 0);
    }
  });

  await step("sign out; the same e-mail again is refused with the server's detail", async () => {
    await page.click("#sign-out");
    await page.waitForSelector("#auth", { state: "visible" });
    await signUp("Again");
    await page.waitForSelector("#notice.error");
    assert.ok((await page.textContent("#notice")).length > 0);
    assert.ok(await page.isVisible("#auth"));
  });

  await step("sign in", async () => {
    await page.fill("#login-form [name=email]", email);
    await page.fill("#login-form [name=password]", password);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("#app", { state: "visible" });
    await page.waitForSelector("#recommendations li");
  });

  let picked;
  let title;
  await step("start the first recommendation: it appears in progress", async () => {
    const first = page.locator("#recommendations li").first();
    picked = await first.getAttribute("data-content-id");
    title = (await first.locator("strong").textContent()).trim();
    await first.locator("button").click();
    await page.waitForSelector(`#progress-table tr[data-content-id="${picked}"]`);
    const row = page.locator(`#progress-table tr[data-content-id="${picked}"]`);
    assert.equal(await row.locator("select[name=status]").inputValue(), "in_progress");
  });

  await step("complete it with a score: recommendations move on and build on it", async () => {
    const row = page.locator(`#progress-table tr[data-content-id="${picked}"]`);
    await row.locator("select[name=status]").selectOption("completed");
    await row.locator("input[name=completion_percentage]").fill("100");
    await row.locator("input[name=score]").fill("95");
    await row.locator("button").click();
    await page.waitForFunction(
      (id) => {
        const items = [...document.querySelectorAll("#recommendations li")];
        const kind = document.querySelector("#recs-kind")?.textContent ?? "";
        return items.length > 0 && kind.startsWith("Based") && !items.some((li) => li.dataset.contentId === id);
      },
      picked,
    );
    const saved = page.locator(`#progress-table tr[data-content-id="${picked}"]`);
    assert.equal(await saved.locator("select[name=status]").inputValue(), "completed");
    assert.equal(await saved.locator("input[name=score]").inputValue(), "95");
    const reasons = await page.locator("#recommendations .reason").allTextContents();
    assert.ok(
      reasons.some((r) => r.includes(title)),
      `a reason names the completed item "${title}": ${JSON.stringify(reasons)}`,
    );
  });

  await step("answer the questionnaire: the analysis is shown", async () => {
    await page.click("#questionnaire-box summary");
    const groups = page.locator("#questionnaire fieldset");
    const n = await groups.count();
    assert.ok(n >= 15, `${n} questions`);
    for (let i = 0; i < n; i++) await groups.nth(i).locator("input[type=radio]").last().check();
    await page.click("#questionnaire button[type=submit]");
    await page.waitForSelector("#personality-result", { state: "visible" });
    assert.match(await page.textContent("#personality-result"), /Track fit/);
  });

  await step("an organization admin's invitation: accepted in the dashboard, the organization appears", async () => {
    const adminEmail = process.env.CYBERHUB_ADMIN_EMAIL;
    const adminPassword = process.env.CYBERHUB_ADMIN_PASSWORD;
    assert.ok(adminEmail && adminPassword, "CYBERHUB_ADMIN_EMAIL/PASSWORD are set by test-sdk.sh");
    const call = async (method, path, token, body) => {
      const r = await fetch(`${server}/api/v1${path}`, {
        method,
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    };
    const login = async (e, p) => (await call("POST", "/auth/login", null, { email: e, password: p })).body.access_token;
    const admin = await login(adminEmail, adminPassword);
    const ownerEmail = `e2e-owner-${Date.now()}@example.org`;
    const owner = await call("POST", "/auth/signup", null, {
      email: ownerEmail, password, first_name: "Olga", last_name: "Owner",
    });
    assert.equal(owner.status, 201, JSON.stringify(owner.body));
    const granted = await call("POST", `/users/${owner.body.user.id}/roles`, admin, { role: "sponsor_admin" });
    assert.equal(granted.status, 201, JSON.stringify(granted.body));
    const ownerToken = await login(ownerEmail, password);
    const slug = `e2e-org-${Date.now()}`;
    const org = await call("POST", "/organizations", ownerToken, { name: "E2E Sponsors", slug, org_type: "sponsor" });
    assert.equal(org.status, 201, JSON.stringify(org.body));
    const eve = (await call("GET", "/auth/me", await login(email, password))).body.user.id;
    const inv = await call("POST", `/organizations/${slug}/members`, ownerToken, { user_id: eve });
    assert.equal(inv.status, 202, JSON.stringify(inv.body));
    await page.click("#refresh-invitations");
    await page.waitForSelector(`#invitations li[data-invitation="${inv.body.id}"]`);
    assert.equal(await page.locator(`#organizations li[data-slug="${slug}"]`).count(), 0);
    await page.click(`#invitations li[data-invitation="${inv.body.id}"] button.accept`);
    await page.waitForSelector(`#organizations li[data-slug="${slug}"]`);
    assert.equal(await page.locator(`#invitations li[data-invitation="${inv.body.id}"]`).count(), 0);
    const members = await call("GET", `/organizations/${slug}/members`, ownerToken);
    assert.equal(members.body.count, 2, JSON.stringify(members.body));
  });

  assert.deepEqual(problems, []);
} finally {
  mkdirSync(dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  await browser.close();
}

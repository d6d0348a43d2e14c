// CyberHub dashboard: plain DOM code over the browser SDK (cyberhub-wasm, --target web).
// Tokens live in sessionStorage through the SDK's TokenStorage hook, so a reload keeps the
// session; everything shown comes from the API through the SDK.

const $ = (sel) => document.querySelector(sel);

/** Element helper: el("td", {class: "x"}, "text", child, ...). Text is never parsed as HTML. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v; // CSSOM: allowed by the page's CSP, an attribute is not
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function notice(text, isError = false) {
  const n = $("#notice");
  n.textContent = text;
  n.className = isError ? "error" : "";
  n.hidden = !text;
}

/** Runs an action, showing the server's `detail` when it fails. */
async function attempt(action) {
  try {
    notice("");
    return await action();
  } catch (e) {
    notice(e && e.detail ? e.detail : String(e), true);
    if (e && e.status === 401) showAuth();
    return undefined;
  }
}

const sessionTokens = {
  get: () => JSON.parse(sessionStorage.getItem("cyberhub.tokens") ?? "null"),
  set: (t) => sessionStorage.setItem("cyberhub.tokens", JSON.stringify(t)),
  clear: () => sessionStorage.removeItem("cyberhub.tokens"),
};

let api;
let me;
let catalog = [];

function titleOf(contentId) {
  const item = catalog.find((c) => c.content_id === contentId);
  return item ? item.title : contentId;
}

function showAuth() {
  me = undefined;
  $("#who").hidden = true;
  $("#app").hidden = true;
  $("#auth").hidden = false;
}

async function showApp() {
  const who = await attempt(() => api.me());
  if (!who) return;
  me = who.user;
  $("#who-name").textContent = `${me.first_name} ${me.last_name}`;
  $("#who").hidden = false;
  $("#auth").hidden = true;
  $("#app").hidden = false;
  await loadCatalog();
  await Promise.all([
    loadProgress(),
    loadRecommendations(),
    loadPersonality(),
    loadQuestionnaire(),
    loadOrganizations(who.organizations),
  ]);
}

/** The caller's organizations and their pending invitations (accept joins, decline refuses). */
async function loadOrganizations(memberships) {
  if (!memberships) {
    const who = await attempt(() => api.me());
    if (!who) return;
    memberships = who.organizations;
  }
  $("#organizations").replaceChildren(
    ...memberships.map((m) =>
      el("li", { "data-slug": m.organization.slug }, el("strong", {}, m.organization.name), ` · ${m.role}`),
    ),
  );
  $("#organizations-empty").hidden = memberships.length > 0;
  const page = await attempt(() => api.listInvitations({ status: "pending" }));
  if (!page) return;
  $("#invitations").replaceChildren(
    ...page.results.map((inv) =>
      el(
        "li",
        { "data-invitation": inv.id },
        el("strong", {}, inv.organization_name),
        ` invites you as ${inv.role} (until ${new Date(inv.expires_at).toLocaleDateString()}) `,
        el("button", { type: "button", class: "small accept", onclick: () => answerInvitation(inv, true) }, "Accept"),
        " ",
        el("button", { type: "button", class: "small decline", onclick: () => answerInvitation(inv, false) }, "Decline"),
      ),
    ),
  );
  $("#invitations-empty").hidden = page.results.length > 0;
}

async function answerInvitation(inv, accept) {
  await attempt(async () => {
    if (accept) await api.acceptInvitation(inv.id);
    else await api.declineInvitation(inv.id);
    notice(accept ? `You joined ${inv.organization_name}.` : `Declined ${inv.organization_name}.`);
    await loadOrganizations();
  });
}

$("#refresh-invitations").addEventListener("click", () => loadOrganizations());

async function loadCatalog() {
  const page = await attempt(() => api.listContent({ page_size: 100 }));
  if (!page) return;
  catalog = page.results;
  const select = $("#catalog");
  select.replaceChildren(
    ...catalog.map((c) =>
      el("option", { value: c.content_id }, `${c.title} (${c.track ?? "general"}, ${c.content_type})`),
    ),
  );
}

async function loadProgress() {
  const page = await attempt(() => api.listProgress({ page_size: 100, ordering: "created_at" }));
  if (!page) return;
  const body = $("#progress-table tbody");
  body.replaceChildren(...page.results.map(progressRow));
  $("#progress-empty").hidden = page.results.length > 0;
  $("#progress-table").hidden = page.results.length === 0;
}

function progressRow(p) {
  const status = el(
    "select",
    { name: "status" },
    ...["not_started", "in_progress", "completed", "paused"].map((s) =>
      el("option", s === p.status ? { value: s, selected: "" } : { value: s }, s.replace("_", " ")),
    ),
  );
  const pct = el("input", { name: "completion_percentage", type: "number", min: 0, max: 100, value: p.completion_percentage });
  const score = el("input", { name: "score", type: "number", min: 0, max: 100, value: p.score ?? "" });
  const save = el("button", { type: "button", class: "small" }, "Save");
  save.addEventListener("click", () =>
    attempt(async () => {
      const patch = { status: status.value, completion_percentage: Number(pct.value) };
      if (score.value !== "") patch.score = Number(score.value);
      await api.updateProgress(p.id, patch);
      notice(`Saved ${titleOf(p.content_id)}.`);
      await Promise.all([loadProgress(), loadRecommendations()]);
    }),
  );
  return el(
    "tr",
    { "data-content-id": p.content_id },
    el("td", {}, titleOf(p.content_id)),
    el("td", {}, status),
    el("td", {}, pct, " %"),
    el("td", {}, score),
    el("td", {}, save),
  );
}

async function startItem(contentId) {
  const item = catalog.find((c) => c.content_id === contentId);
  if (!item) return;
  await attempt(async () => {
    await api.createProgress({ content_id: item.content_id, content_type: item.content_type, status: "in_progress" });
    notice(`Started ${item.title}.`);
    await Promise.all([loadProgress(), loadRecommendations()]);
  });
}

async function loadRecommendations() {
  const recs = await attempt(() => api.recommendationsOf(me.id, { limit: 6 }));
  if (!recs) return;
  $("#recs-kind").textContent = recs.cold_start
    ? "Starters for newcomers: complete a few items and these follow what you do."
    : "Based on what you have completed and started.";
  $("#recommendations").replaceChildren(
    ...recs.recommendations.map((r) =>
      el(
        "li",
        { "data-content-id": r.content_id },
        el("strong", {}, r.title),
        el("div", { class: "meta" }, `${r.track ?? "general"} · ${r.content_type} · match ${(r.score * 100).toFixed(0)}%`),
        el("div", { class: "reason" }, r.reason),
        el("button", { type: "button", class: "small", onclick: () => startItem(r.content_id) }, "Start"),
      ),
    ),
  );
}

function showPersonality(a) {
  const box = $("#personality-result");
  const parts = [el("p", {}, a.summary)];
  for (const t of a.traits) {
    parts.push(
      el("div", { class: "muted" }, `${t.name.replace("_", " ")}: ${(t.score * 100).toFixed(0)}%`),
      el("div", { class: "bar" }, el("span", { style: `width:${(t.score * 100).toFixed(0)}%` })),
    );
  }
  if (a.track_fit.length) {
    parts.push(
      el("p", { class: "muted" }, "Track fit: " + a.track_fit.map((f) => `${f.track} ${(f.score * 100).toFixed(0)}%`).join(", ")),
    );
  }
  if (a.recommendations.length) parts.push(el("ul", {}, ...a.recommendations.map((s) => el("li", {}, s))));
  box.replaceChildren(...parts);
  box.hidden = false;
}

async function loadPersonality() {
  try {
    showPersonality(await api.personalityOf(me.id));
  } catch (e) {
    if (e.status !== 404) notice(e.detail ?? String(e), true);
  }
}

async function loadQuestionnaire() {
  const q = await attempt(() => api.questionnaire());
  if (!q) return;
  const form = $("#questionnaire");
  form.replaceChildren(
    ...q.questions.map((question) =>
      el(
        "fieldset",
        {},
        el("legend", {}, question.text),
        ...question.options.map((o) =>
          el("label", {}, el("input", { type: "radio", name: question.id, value: o.id, required: "" }), o.text),
        ),
      ),
    ),
    el("button", { type: "submit" }, "Analyse me"),
  );
}

$("#questionnaire").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const answers = [...new FormData(ev.target).entries()].map(([question_id, option_id]) => ({ question_id, option_id }));
  attempt(async () => {
    showPersonality(await api.analyzePersonality({ user_id: me.id, answers }));
    $("#questionnaire-box").open = false;
    await loadRecommendations();
  });
});

$("#login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  attempt(async () => {
    await api.login(f.get("email"), f.get("password"));
    ev.target.reset();
    await showApp();
  });
});

$("#signup-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = Object.fromEntries(new FormData(ev.target).entries());
  attempt(async () => {
    await api.signup(f);
    ev.target.reset();
    notice(`Welcome, ${f.first_name}!`);
    await showApp();
  });
});

$("#start-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  startItem($("#catalog").value);
});

$("#sign-out").addEventListener("click", () =>
  attempt(async () => {
    await api.logout(false);
    showAuth();
  }),
);

async function main() {
  let sdk;
  try {
    sdk = await import("/sdk/cyberhub_wasm.js");
    await sdk.default();
  } catch (e) {
    notice("The browser SDK is not built on this server: run `bash scripts/build-sdk.sh`, then reload.", true);
    return;
  }
  api = new sdk.CyberHub(location.origin, sessionTokens);
  if (api.isSignedIn) await showApp();
  else showAuth();
  document.body.dataset.ready = "true";
}

main();

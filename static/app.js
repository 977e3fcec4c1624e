// The web client of the API: one ES module, no build step, no dependencies, same origin only.
//
// It speaks the public HTTP contract (API.md) like any other client: JSON in and out, the one
// error shape, ETags with If-Match on every todo write, cursors for paging. Everything it shows
// is written with textContent, never parsed as HTML, so user data cannot become markup.

const API = "/api/v1";
const PAGE_SIZE = 20;
const SEARCH_DELAY_MS = 300;
// With a `q`, page mode counts matches only up to the API's page window.
const COUNT_CAP = 10000;

// --- Tokens -----------------------------------------------------------------------------------
// Kept in sessionStorage, not in memory alone and not in localStorage: a reload of this tab keeps
// you signed in, closing the tab forgets both tokens, and other tabs never see them. Unlike a
// cookie the browser never attaches them to a request by itself (no CSRF), and the page runs no
// script but this same-origin file, so nothing else in the page can read them.
const tokens = {
  get access() {
    return sessionStorage.getItem("access_token");
  },
  get refresh() {
    return sessionStorage.getItem("refresh_token");
  },
  save(pair) {
    sessionStorage.setItem("access_token", pair.access_token);
    sessionStorage.setItem("refresh_token", pair.refresh_token);
  },
  clear() {
    sessionStorage.removeItem("access_token");
    sessionStorage.removeItem("refresh_token");
  },
};

// --- HTTP -------------------------------------------------------------------------------------

/** A non-2xx answer, carrying the contract's error body (`{"error": {code, message, details}}`). */
class ApiError extends Error {
  constructor(status, body, headers) {
    const error = (body && body.error) || {};
    super(error.message || `The server answered ${status}.`);
    this.status = status;
    this.code = error.code || "error";
    this.details = error.details;
    this.retryAfter = headers.get("Retry-After");
  }
}

/** The session ended (refresh refused): the user has to sign in again. */
class SessionEnded extends Error {}

function send(method, path, { body, headers = {}, token = tokens.access } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(API + path, init);
}

async function readJson(response) {
  if (response.status === 204 || response.status === 304) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

async function isExpiredToken(response) {
  if (response.status !== 401) return false;
  const body = await readJson(response.clone());
  return Boolean(body && body.error && body.error.code === "token_expired");
}

let refreshing = null;

/** Exchange the refresh token for a new pair. Refresh tokens rotate (a spent one presented again
 * revokes the whole login), so concurrent callers share one refresh instead of racing. */
function refreshTokens() {
  refreshing ??= (async () => {
    const response = await send("POST", "/auth/refresh", { token: tokens.refresh });
    if (!response.ok) throw new SessionEnded();
    tokens.save(await response.json());
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** Call the API; on a 401 `token_expired` refresh the tokens once and retry the request once. */
async function api(method, path, options = {}) {
  let response = await send(method, path, options);
  if (options.token === undefined && tokens.refresh && (await isExpiredToken(response))) {
    await refreshTokens();
    response = await send(method, path, options);
  }
  const body = await readJson(response);
  if (!response.ok) throw new ApiError(response.status, body, response.headers);
  return { body, headers: response.headers };
}

// --- Messages ---------------------------------------------------------------------------------

const messageBox = document.getElementById("message");

/** Show a message in the page's live region (screen readers announce it). */
function say(text, kind = "info") {
  messageBox.textContent = text;
  messageBox.dataset.kind = kind;
}

function describe(error) {
  if (error instanceof SessionEnded) return "Your session has ended: please sign in again.";
  if (!(error instanceof ApiError)) return "The server cannot be reached; try again shortly.";
  if (error.status === 429) {
    const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s (Retry-After: ${error.retryAfter}).` : "";
    return `Too many requests.${wait}`;
  }
  if (error.status === 422 && error.details && typeof error.details === "object") {
    const fields = Object.entries(error.details)
      .map(([field, problems]) => `${field}: ${[].concat(problems).join(", ")}`)
      .join("; ");
    return `${error.message} (${fields})`;
  }
  return error.message;
}

/** Run a user action; whatever goes wrong ends as a message (or back at the sign-in form). */
async function attempt(action) {
  try {
    await action();
  } catch (error) {
    if (error instanceof SessionEnded) {
      tokens.clear();
      showSignedOut();
    }
    say(describe(error), "error");
  }
}

// --- Rendering helpers ------------------------------------------------------------------------

const dateFormat = new Intl.DateTimeFormat("en", { dateStyle: "medium" });
const numberFormat = new Intl.NumberFormat("en");

function element(tag, properties = {}, ...children) {
  const node = Object.assign(document.createElement(tag), properties);
  node.append(...children);
  return node;
}

function formatDate(iso) {
  return iso ? dateFormat.format(new Date(iso)) : "";
}

function countText(total, noun, capped) {
  const plural = total === 1 ? noun : `${noun}s`;
  if (capped && total >= COUNT_CAP) return `More than ${numberFormat.format(COUNT_CAP)} ${plural}`;
  return `${numberFormat.format(total)} ${plural}`;
}

function fillTable(table, rows) {
  table.tBodies[0].replaceChildren(
    ...rows.map((cells) => element("tr", {}, ...cells.map((text) => element("td", { textContent: text })))),
  );
}

// --- Paging -----------------------------------------------------------------------------------

/**
 * One list endpoint shown page by page. The first page is asked for in page mode, which also
 * gives the `total`; later pages follow `next_cursor` (cursor mode scales to any depth). The
 * cursors of the pages shown so far are kept on a stack, so "Previous" goes back exactly.
 */
class Pager {
  constructor(section, path, { filters = () => ({}), render }) {
    this.path = path;
    this.filters = filters;
    this.render = render;
    this.stack = [null];
    this.nextCursor = null;
    this.total = null;
    this.ticket = 0;
    this.previousButton = section.querySelector('[data-pager="previous"]');
    this.nextButton = section.querySelector('[data-pager="next"]');
    this.label = section.querySelector('[data-pager="label"]');
    this.previousButton.addEventListener("click", () => attempt(() => this.previous()));
    this.nextButton.addEventListener("click", () => attempt(() => this.next()));
    this.updateControls();
  }

  first() {
    this.stack = [null];
    return this.load();
  }

  next() {
    if (!this.nextCursor) return undefined;
    this.stack.push(this.nextCursor);
    return this.load();
  }

  previous() {
    if (this.stack.length < 2) return undefined;
    this.stack.pop();
    return this.load();
  }

  reload() {
    return this.load();
  }

  async load() {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(this.filters())) {
      if (value) query.set(name, value);
    }
    const cursor = this.stack.at(-1);
    if (cursor === null) {
      query.set("page", "1");
      query.set("per_page", String(PAGE_SIZE));
    } else {
      query.set("limit", String(PAGE_SIZE));
      query.set("cursor", cursor);
    }
    const ticket = ++this.ticket;
    const { body } = await api("GET", `${this.path}?${query}`);
    // Answers can arrive out of order (search as you type): only the latest request counts.
    if (ticket !== this.ticket) return;
    if (cursor === null) this.total = body.meta.total;
    this.nextCursor = body.meta.next_cursor;
    this.render(body.items, this);
    this.updateControls();
  }

  updateControls() {
    this.previousButton.disabled = this.stack.length < 2;
    this.nextButton.disabled = !this.nextCursor;
    const pages = this.total === null ? 0 : Math.max(1, Math.ceil(this.total / PAGE_SIZE));
    const of = pages && this.total < COUNT_CAP ? ` of ${pages}` : "";
    this.label.textContent = `Page ${this.stack.length}${of}`;
  }
}

/** Reload `pager` from its first page a moment after the last keystroke in `input`. */
function searchAsYouType(input, pager) {
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => attempt(() => pager.first()), SEARCH_DELAY_MS);
  });
}

// --- Todos ------------------------------------------------------------------------------------

const todoSection = document.getElementById("view-todos");
const todoList = document.getElementById("todo-list");

/** The todo was changed elsewhere since it was shown. */
class Stale extends Error {}

// id -> {etag, updated}: the ETag of the version of each todo this page last read or wrote.
const etags = new Map();

function remember(todo, headers) {
  etags.set(todo.id, { etag: headers.get("ETag"), updated: todo.updated });
}

/** The ETag of the version of `todo` on screen. List pages carry no ETags, so a todo not read
 * or written here yet is read once, and refused if it is not the version shown. */
async function etagOf(todo) {
  const known = etags.get(todo.id);
  if (known && known.updated === todo.updated) return known.etag;
  const { body, headers } = await api("GET", `/todos/${todo.id}`);
  if (body.updated !== todo.updated) throw new Stale();
  remember(body, headers);
  return headers.get("ETag");
}

/** PATCH or DELETE `todo` with If-Match; on a 412 (or an unseen change) say so and show the
 * latest version instead. Returns the written todo, or null when nothing was written. */
async function writeTodo(todo, method, body) {
  try {
    const etag = await etagOf(todo);
    const result = await api(method, `/todos/${todo.id}`, { body, headers: { "If-Match": etag } });
    if (result.body) remember(result.body, result.headers);
    else etags.delete(todo.id);
    return result.body ?? todo;
  } catch (error) {
    const stale = error instanceof Stale || (error instanceof ApiError && error.status === 412);
    if (!stale && !(error instanceof ApiError && error.status === 404)) throw error;
    etags.delete(todo.id);
    await todoPager.reload();
    say(
      stale
        ? `“${todo.title}” was changed elsewhere since it was shown here (412 Precondition Failed), so your change was not saved. The list now shows the latest version: try again.`
        : `“${todo.title}” no longer exists (it was deleted elsewhere).`,
      "error",
    );
    return null;
  }
}

function todoItem(todo) {
  const checkboxId = `todo-${todo.id}-done`;
  const checkbox = element("input", { type: "checkbox", id: checkboxId, checked: todo.done });
  const title = element("label", { htmlFor: checkboxId, textContent: todo.title, className: "todo-title" });
  const edit = element("button", { type: "button", textContent: "Edit" });
  const remove = element("button", { type: "button", textContent: "Delete", className: "danger" });
  edit.setAttribute("aria-label", `Edit “${todo.title}”`);
  remove.setAttribute("aria-label", `Delete “${todo.title}”`);
  const item = element("li", { className: todo.done ? "todo done" : "todo" }, checkbox, title, edit, remove);

  checkbox.addEventListener("change", () =>
    attempt(async () => {
      const written = await writeTodo(todo, "PATCH", { done: checkbox.checked });
      if (written) {
        item.replaceWith(todoItem(written));
        say(`“${written.title}” marked ${written.done ? "done" : "not done"}.`);
        document.getElementById(checkboxId)?.focus();
      }
    }),
  );
  edit.addEventListener("click", () => item.replaceWith(todoEditor(todo)));
  remove.addEventListener("click", () =>
    attempt(async () => {
      if (await writeTodo(todo, "DELETE")) {
        await todoPager.reload();
        say(`“${todo.title}” deleted.`);
        document.getElementById("todo-title").focus();
      }
    }),
  );
  return item;
}

/** The inline form that renames a todo: Enter saves, Escape cancels. */
function todoEditor(todo) {
  const inputId = `todo-${todo.id}-title`;
  const input = element("input", { id: inputId, value: todo.title, required: true, maxLength: 200 });
  const label = element("label", { htmlFor: inputId, textContent: "Title", className: "visually-hidden" });
  const cancel = element("button", { type: "button", textContent: "Cancel" });
  const form = element("form", { className: "todo-editor" }, label, input, element("button", { type: "submit", textContent: "Save" }), cancel);
  const item = element("li", { className: "todo editing" }, form);

  const close = (shown) => {
    const restored = todoItem(shown);
    item.replaceWith(restored);
    restored.querySelector("button").focus();
  };
  cancel.addEventListener("click", () => close(todo));
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close(todo);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      const written = await writeTodo(todo, "PATCH", { title: input.value });
      if (written) {
        close(written);
        say(`Renamed to “${written.title}”.`);
      }
    });
  });
  queueMicrotask(() => input.focus());
  return item;
}

const todoPager = new Pager(todoSection, "/todos", {
  render(items, pager) {
    todoList.replaceChildren(...items.map(todoItem));
    document.getElementById("todos-total").textContent =
      pager.total === 0 ? "Nothing to do yet: add your first todo above." : countText(pager.total, "todo");
  },
});

document.getElementById("todo-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = event.target.elements.title;
  attempt(async () => {
    const { body, headers } = await api("POST", "/todos", { body: { title: input.value } });
    remember(body, headers);
    input.value = "";
    await todoPager.first();
    say(`Added “${body.title}”.`);
  });
});

// --- Directory and templates (read only) ------------------------------------------------------

const directoryQuery = document.getElementById("directory-q");
const directorySort = document.getElementById("directory-sort");
const directoryPager = new Pager(document.getElementById("view-directory"), "/users", {
  filters: () => ({ q: directoryQuery.value.trim(), sort: directorySort.value }),
  render(items, pager) {
    fillTable(
      document.getElementById("directory-table"),
      items.map((user) => [user.username, user.name, formatDate(user.created)]),
    );
    const q = directoryQuery.value.trim();
    const count = countText(pager.total, "user", Boolean(q));
    document.getElementById("directory-total").textContent = q ? `${count} match “${q}”` : count;
  },
});
searchAsYouType(directoryQuery, directoryPager);
directorySort.addEventListener("change", () => attempt(() => directoryPager.first()));

const templatesQuery = document.getElementById("templates-q");
const templatesPager = new Pager(document.getElementById("view-templates"), "/templates", {
  filters: () => ({ q: templatesQuery.value.trim() }),
  render(items, pager) {
    fillTable(
      document.getElementById("templates-table"),
      items.map((template) => [template.name, template.description, formatDate(template.modified)]),
    );
    document.getElementById("templates-total").textContent = countText(pager.total, "template");
  },
});
searchAsYouType(templatesQuery, templatesPager);

// --- Account recovery (the views mailed links open) -------------------------------------------
// A link is `PUBLIC_URL/#reset-password?token=...` or `#verify-email?token=...`: the token is in
// the fragment, which browsers never send to a server, nor in a Referer. The page takes it into
// memory and at once removes it from the address bar and this history entry, so that it is not
// left on screen, in a bookmark, or for the back button.

const linkViews = {
  "forgot-password": document.getElementById("view-forgot-password"),
  "reset-password": document.getElementById("view-reset-password"),
  "verify-email": document.getElementById("view-verify-email"),
};
const verifyNotice = document.getElementById("verify-notice");
const verifyStatus = document.getElementById("verify-status");
let linkToken = null;

/** Show the recovery view the address names, if it names one (taking a link's token). */
function openLinkView(focus) {
  const [name, query = ""] = location.hash.slice(1).split("?");
  if (!(name in linkViews)) return false;
  const token = new URLSearchParams(query).get("token");
  if (token) {
    linkToken = token;
    history.replaceState(null, "", `${location.pathname}${location.search}#${name}`);
  }
  if (name === "verify-email") {
    verifyStatus.textContent = linkToken
      ? "Confirm that this email address is yours."
      : "Open the link in the email we sent you to confirm your address.";
    document.getElementById("verify-button").hidden = !linkToken;
  }
  nav.hidden = !tokens.access;
  showSection(linkViews[name], focus);
  return true;
}

/** Back to the sign-in form (forgetting this tab's tokens: the server ended those logins). */
function backToSignIn(text) {
  tokens.clear();
  etags.clear();
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  showSignedOut();
  say(text);
}

document.getElementById("forgot-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  attempt(async () => {
    const { body } = await api("POST", "/auth/password/forgot", {
      body: { email: form.elements.email.value.trim() },
      token: null,
    });
    form.reset();
    say(`${body.message} Check your mailbox.`);
  });
});

document.getElementById("reset-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  attempt(async () => {
    if (!linkToken) {
      say("Open the link in the email we sent you to choose a new password.", "error");
      return;
    }
    await api("POST", "/auth/password/reset", {
      body: { token: linkToken, password: form.elements.password.value },
      token: null,
    });
    linkToken = null;
    form.reset();
    backToSignIn("Your password has been changed and every session signed out: sign in with the new one.");
  });
});

document.getElementById("verify-button").addEventListener("click", () =>
  attempt(async () => {
    const token = linkToken;
    linkToken = null;
    document.getElementById("verify-button").hidden = true;
    try {
      await api("POST", "/auth/verify", { body: { token }, token: null });
    } catch (error) {
      verifyStatus.textContent = describe(error);
      throw error;
    }
    verifyStatus.textContent = "Your email address is confirmed.";
    verifyNotice.hidden = true;
    say("Your email address is confirmed.");
  }),
);

document.getElementById("resend-verification").addEventListener("click", () =>
  attempt(async () => {
    const { body } = await api("POST", "/auth/verify/resend");
    say(body.message);
  }),
);

// --- Views and the account --------------------------------------------------------------------

const views = {
  todos: { section: todoSection, pager: todoPager },
  directory: { section: document.getElementById("view-directory"), pager: directoryPager },
  templates: { section: document.getElementById("view-templates"), pager: templatesPager },
};
const authSection = document.getElementById("view-auth");
const nav = document.getElementById("nav");
const account = document.getElementById("account");

function currentViewName() {
  const name = location.hash.slice(1);
  return name in views ? name : "todos";
}

/** Show one section; after a user's action, move focus to its heading so keyboard and screen
 * reader users land there (never on page load, where focus starts at the top as usual). */
function showSection(section, focus) {
  for (const view of document.querySelectorAll("main > section.view")) {
    view.hidden = view !== section;
  }
  if (focus) section.querySelector("h1").focus();
}

async function showView(focus = true) {
  const name = currentViewName();
  for (const link of nav.querySelectorAll("a")) {
    if (link.hash === `#${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  showSection(views[name].section, focus);
  await views[name].pager.first();
}

function showSignedOut(focus = true) {
  nav.hidden = true;
  account.hidden = true;
  verifyNotice.hidden = true;
  showSection(authSection, focus);
}

async function showSignedIn(focus = true) {
  const { body: me } = await api("GET", "/users/me");
  document.getElementById("account-name").textContent = me.name ? `${me.username} (${me.name})` : me.username;
  verifyNotice.hidden = me.email_verified !== false;
  nav.hidden = false;
  account.hidden = false;
  await showView(focus);
  return me;
}

async function signIn(login, password) {
  const { body } = await api("POST", "/auth/login", { body: { username: login, password }, token: null });
  tokens.save(body);
  const me = await showSignedIn();
  say(`Welcome, ${me.username}.`);
}

document.getElementById("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  attempt(async () => {
    await signIn(form.elements.username.value.trim(), form.elements.password.value);
    form.reset();
  });
});

document.getElementById("sign-up-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const fields = Object.fromEntries(new FormData(form));
  if (!fields.name.trim()) delete fields.name;
  attempt(async () => {
    await api("POST", "/auth/register", { body: fields, token: null });
    form.reset();
    try {
      await signIn(fields.username, fields.password);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === "email_not_verified")) throw error;
      say("Account created. Confirm your email address with the link we sent you, then sign in.");
    }
  });
});

document.getElementById("sign-out").addEventListener("click", () =>
  attempt(async () => {
    try {
      // Revokes the whole login on the server: this access token and its refresh token.
      await api("POST", "/auth/logout");
    } finally {
      tokens.clear();
      etags.clear();
      showSignedOut();
    }
    say("You are signed out.");
  }),
);

window.addEventListener("hashchange", () => {
  say("");
  if (openLinkView(true)) return;
  // (From a recovery view opened by a link, the account bar is still to be filled in.)
  if (tokens.access) attempt(() => (account.hidden ? showSignedIn() : showView()));
  else showSignedOut();
});

if (!openLinkView(false)) {
  if (tokens.access) attempt(() => showSignedIn(false));
  else showSignedOut(false);
}

// The page at /ui: the server's sessions, a live one in xterm.js, an ended one replayed with
// asciinema-player. Everything it shows comes from /ui/api (see streamshell/ui/app.py); text from
// sessions is only ever put in the page as text (textContent), never as HTML.
"use strict";

const $ = (selector) => document.querySelector(selector);
const state = { me: null, sessions: [], selected: null, list: null, viewer: null };

async function api(path, body) {
  const options = { credentials: "same-origin" };
  if (body !== undefined) {
    options.method = "POST";
    options.headers = { "Content-Type": "application/json" };
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  return { status: response.status, data };
}

async function start() {
  const answer = await api("/ui/api/me");
  if (answer.status === 401) {
    showLogin();
    return;
  }
  state.me = answer.data;
  showApp();
}

function showLogin(problem) {
  closeViewer();
  if (state.list) state.list.close();
  state.list = null;
  $("#app").hidden = true;
  $("#mode").hidden = true;
  $("#logout").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = problem || "";
  $("#token").focus();
}

function showApp() {
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#logout").hidden = false;
  $("#version").textContent = state.me.version;
  const mode = $("#mode");
  mode.hidden = false;
  mode.className = "mode " + (state.me.input ? "input" : "read-only");
  mode.textContent = state.me.input ? "input enabled" : "read-only";
  mode.title = state.me.input
    ? "what you type in a live session goes to it (the server runs with --ui-input)"
    : "watching only: the server was started without --ui-input";
  listen();
}

function listen() {
  if (state.list) state.list.close();
  const source = new EventSource("/ui/api/events");
  source.addEventListener("sessions", (event) => {
    state.sessions = JSON.parse(event.data);
    renderSessions();
  });
  source.addEventListener("error", async () => {
    // Server restarted (the login is gone) or unreachable: EventSource retries by itself.
    const answer = await api("/ui/api/me").catch(() => null);
    if (answer && answer.status === 401) showLogin("Your login is no longer valid: log in again.");
  });
  state.list = source;
}

function age(seconds) {
  const s = Math.max(0, Math.floor(Date.now() / 1000 - seconds));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h";
  return Math.floor(s / 86400) + "d";
}

// Plain ids while every session listed is of one session table; LABEL:ID once several clients have some.
function label(session) {
  return new Set(state.sessions.map((s) => s.table)).size > 1 ? session.key : String(session.session_id);
}

// Rows are kept per session and updated in place (a click must not land on a row being replaced).
const rows = new Map();

function row(session) {
  let tr = rows.get(session.key);
  if (!tr) {
    tr = document.createElement("tr");
    tr.dataset.key = session.key;
    for (const name of ["id", "command", "state", "exit", "age", "node"]) {
      const cell = document.createElement("td");
      cell.className = "c-" + name;
      tr.appendChild(cell);
    }
    const pill = document.createElement("span");
    tr.cells[2].appendChild(pill);
    tr.addEventListener("click", () => select(state.sessions.find((s) => s.key === tr.dataset.key)));
    rows.set(session.key, tr);
  }
  tr.dataset.state = session.state;
  tr.classList.toggle("selected", Boolean(state.selected && state.selected.key === session.key));
  const [id, command, status, exit, started, node] = tr.cells;
  id.textContent = label(session);
  command.textContent = session.command;
  command.title = session.command;
  status.firstChild.className = "state " + session.state;
  status.firstChild.textContent = session.state === "waiting" ? "waiting for input" : session.state;
  exit.textContent = session.exit_code === null ? "" : String(session.exit_code);
  started.textContent = age(session.started_at);
  node.textContent = session.node ? session.node.slice(0, 12) : "";
  return tr;
}

function renderSessions() {
  const body = $("#sessions tbody");
  $("#sessions").classList.toggle("clustered", state.sessions.some((s) => s.node));
  $("#no-sessions").hidden = state.sessions.length > 0;
  const wanted = [...state.sessions].reverse().map(row);
  const keys = new Set(state.sessions.map((s) => s.key));
  for (const [key, tr] of rows) {
    if (!keys.has(key)) {
      tr.remove();
      rows.delete(key);
    }
  }
  const inOrder = wanted.length === body.children.length && wanted.every((tr, i) => body.children[i] === tr);
  if (!inOrder) body.replaceChildren(...wanted);
  const selected = state.selected && state.sessions.find((s) => s.key === state.selected.key);
  if (selected && state.selected.live && !selected.live) {
    state.selected = selected;  // it ended while watched: the last screen stays; a click replays it
    $("#viewer-status").textContent = "ended" + (selected.exit_code === null ? "" : " with code " + selected.exit_code);
    $("#kill").hidden = true;
  }
}

function select(session) {
  if (!session) return;
  state.selected = session;
  for (const tr of rows.values()) tr.classList.toggle("selected", tr.dataset.key === session.key);
  if (session.live) openLive(session);
  else openReplay(session);
}

function closeViewer() {
  if (state.viewer) state.viewer.close();
  state.viewer = null;
  $("#screen").replaceChildren();
  $("#viewer-note").hidden = true;
  $("#kill").hidden = true;
  $("#viewer-status").textContent = "";
}

function sessionPath(session) {
  return "/ui/api/sessions/" + encodeURIComponent(session.table) + "/" + session.session_id;
}

function openLive(session) {
  closeViewer();
  $("#viewer-title").textContent = "Session " + label(session) + ": " + session.command;
  const note = $("#viewer-note");
  note.hidden = false;
  note.className = "note" + (state.me.input ? " input" : "");
  note.textContent = state.me.input
    ? "Live. What you type here goes to the session, as write_stdin's input does."
    : "Live, read-only: typing here is not sent (the server was started without --ui-input).";
  $("#kill").hidden = !state.me.input;
  const term = new Terminal({
    cols: 80,
    rows: 24,
    disableStdin: !state.me.input,
    cursorBlink: state.me.input,
    fontFamily: '"DejaVu Sans Mono", ui-monospace, monospace',
    fontSize: 13,
    scrollback: 5000,
  });
  term.open($("#screen"));
  const source = new EventSource(sessionPath(session) + "/stream");
  const status = (text) => { $("#viewer-status").textContent = text; };
  source.addEventListener("screen", (event) => {
    const screen = JSON.parse(event.data);
    term.reset();
    term.resize(screen.cols, screen.rows);
    term.write(screen.text);
    status(state.me.input ? "live" : "live, read-only");
  });
  source.addEventListener("output", (event) => term.write(JSON.parse(event.data).text));
  source.addEventListener("resize", (event) => {
    const size = JSON.parse(event.data);
    term.resize(size.cols, size.rows);
  });
  source.addEventListener("exit", (event) => status("exited with code " + JSON.parse(event.data).code));
  source.addEventListener("failure", (event) => status(JSON.parse(event.data).message));
  source.addEventListener("end", () => {
    source.close();
    $("#kill").hidden = true;
    term.options.disableStdin = true;
  });
  const input = state.me.input ? typist(session, status) : null;
  if (input) term.onData(input);
  term.focus();
  state.viewer = {
    close() {
      source.close();
      term.dispose();
    },
  };
}

// Keystrokes go out in order, one request at a time; what is typed meanwhile goes in the next one.
function typist(session, status) {
  let pending = "";
  let sending = false;
  async function flush() {
    if (sending || !pending) return;
    sending = true;
    const data = pending;
    pending = "";
    const answer = await api(sessionPath(session) + "/input", { data }).catch(() => null);
    sending = false;
    if (!answer || answer.status !== 200) status((answer && answer.data && answer.data.error) || "input was not sent");
    flush();
  }
  return (data) => {
    pending += data;
    flush();
  };
}

function openReplay(session) {
  closeViewer();
  $("#viewer-title").textContent = "Session " + label(session) + ": " + session.command;
  const note = $("#viewer-note");
  note.hidden = false;
  note.className = "note";
  if (!session.cast) {
    note.textContent = "This session ended and was not recorded (the server runs with --no-transcripts).";
    return;
  }
  note.textContent = "Ended" + (session.exit_code === null ? "" : " with code " + session.exit_code)
    + ": replaying its cast, " + session.cast + ".";
  const player = AsciinemaPlayer.create(sessionPath(session) + "/cast", $("#screen"), {
    autoPlay: true,
    idleTimeLimit: 1,
    fit: false,
    terminalFontSize: "13px",
  });
  state.viewer = { close() { player.dispose(); } };
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const field = $("#token");
  const answer = await api("/ui/login", { token: field.value });
  field.value = "";
  if (answer.status !== 200) {
    $("#login-error").textContent = answer.status === 401 ? "Wrong token." : "Login failed (" + answer.status + ").";
    return;
  }
  start();
});

$("#logout").addEventListener("click", async () => {
  await api("/ui/logout", {});
  showLogin();
});

$("#kill").addEventListener("click", async () => {
  const session = state.selected;
  if (!session) return;
  const answer = await api(sessionPath(session) + "/kill", {});
  $("#viewer-status").textContent = answer.status === 200
    ? "killed (exit code " + answer.data.exit_code + ")"
    : (answer.data && answer.data.error) || "kill failed";
});

setInterval(() => { for (const session of state.sessions) row(session); }, 1000);
start();

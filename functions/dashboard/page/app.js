"use strict";
// The capi-writeback dashboard: plain DOM, no framework, nothing loaded from elsewhere.
// Every value from the API is written with textContent (never as HTML). The token lives in this
// tab's sessionStorage only and travels in the Authorization header only.
(function () {
  var TOKEN_KEY = "capi-writeback.token";
  var AUDIT_PAGE = 20;         // rows shown per page
  var AUDIT_FETCH = 100;       // rows asked of the API per request while filtering
  var AUDIT_MAX_REQUESTS = 20; // requests per page before reporting "searched N rows"
  var base = new URL(".", window.location.href); // .../v1/
  var state = { workspace: null, profiles: [], selected: null, audit: null };

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function token() { return window.sessionStorage.getItem(TOKEN_KEY); }
  function say(text) { $("status").textContent = text; }
  function isAdmin() { return state.workspace && (state.workspace.you.role === "owner" || state.workspace.you.role === "admin"); }

  // -- the API ------------------------------------------------------------------------------------
  function api(method, path, body) {
    var init = { method: method, headers: { "Authorization": "Bearer " + token(), "Accept": "application/json" },
                 credentials: "omit", cache: "no-store" };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(new URL(path, base), init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (response.ok) return data;
        var error = (data && data.error) || { type: "HTTP_" + response.status,
          message: "The API answered HTTP " + response.status + ".", fix: "Retry; if it persists, check the API." };
        error.status = response.status;
        if (response.status === 401) signOut(error);
        throw error;
      });
    }, function () {
      throw { type: "NETWORK", message: "The API could not be reached.", fix: "Check your connection and retry." };
    });
  }
  function path(parts) { return parts.map(encodeURIComponent).join("/"); }

  // -- errors: type, message and the fix, always -------------------------------------------------
  function errorBlock(error, cls) {
    var box = el("div", null, cls);
    var head = el("p");
    head.appendChild(el("span", error.type || "ERROR", "type"));
    head.appendChild(document.createTextNode(": " + (error.message || "")));
    box.appendChild(head);
    if (error.fix) box.appendChild(el("p", "Fix: " + error.fix, "fix"));
    if (error.details && error.details.code !== undefined) {
      box.appendChild(el("p", "Meta code " + error.details.code +
        (error.details.subcode !== undefined ? "/" + error.details.subcode : ""), "note"));
    }
    if (error.request_id) box.appendChild(el("p", "request_id " + error.request_id, "note mono"));
    return box;
  }
  function showError(error) {
    var box = $("error");
    clear(box);
    box.appendChild(errorBlock(error));
    box.hidden = false;
  }
  function hideError() { $("error").hidden = true; clear($("error")); }
  function sectionError(container, error) { clear(container); container.appendChild(errorBlock(error, "section-error")); }
  function act(promise, done) {
    hideError();
    return promise.then(done, function (error) { if (error && error.status !== 401) showError(error); });
  }

  // -- signing in and out ---------------------------------------------------------------------------
  function signOut(error) {
    window.sessionStorage.removeItem(TOKEN_KEY);
    state = { workspace: null, profiles: [], selected: null, audit: null };
    $("app").hidden = true; $("login").hidden = false; $("signout").hidden = true; $("who").textContent = "";
    if (error) showError(error);
    $("token").focus();
  }
  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = $("token").value.trim();
    $("token").value = "";
    if (!value) { showError({ type: "VALIDATION_ERROR", message: "No token was entered.", fix: "Paste an API token." }); return; }
    window.sessionStorage.setItem(TOKEN_KEY, value);
    start(true);
  });
  $("signout").addEventListener("click", function () { signOut(); say("Signed out."); });

  function start(focus) {
    hideError();
    return api("GET", "workspace").then(function (workspace) {
      state.workspace = workspace;
      $("login").hidden = true; $("app").hidden = false; $("signout").hidden = false;
      $("who").textContent = workspace.you.user_id + " (" + workspace.you.role + ")";
      renderWorkspace();
      if (focus) $("workspace-h").focus();
      return Promise.all([loadProfiles(), loadMembers(), loadTokens()]);
    }, function (error) { if (error.status !== 401) showError(error); });
  }

  // -- workspace --------------------------------------------------------------------------------------
  function renderWorkspace() {
    var ws = state.workspace;
    $("workspace-line").textContent = (ws.name || ws.workspace_id) + " (" + ws.workspace_id + ") — write-back is " +
      (ws.writeback_enabled ? "ON" : "OFF") + ".";
    var toggle = $("writeback-toggle");
    toggle.hidden = !isAdmin();
    toggle.textContent = ws.writeback_enabled ? "Turn write-back off" : "Turn write-back on";
  }
  $("writeback-toggle").addEventListener("click", function () {
    var wanted = !state.workspace.writeback_enabled;
    act(api("PATCH", "workspace/settings", { writeback_enabled: wanted }), function (result) {
      state.workspace.writeback_enabled = result.writeback_enabled;
      renderWorkspace();
      say("Write-back is now " + (result.writeback_enabled ? "on" : "off") + ".");
    });
  });

  // -- profiles -----------------------------------------------------------------------------------------
  function loadProfiles() {
    return api("GET", "profiles").then(function (page) {
      state.profiles = page.items;
      renderProfiles();
    }, function (error) { if (error.status !== 401) showError(error); });
  }
  function pill(text, kind) { return el("span", text, "pill " + kind); }
  function renderProfiles() {
    var body = $("profiles-table").tBodies[0];
    clear(body);
    if (!state.profiles.length) {
      var row = body.insertRow(); var cell = row.insertCell(); cell.colSpan = 5;
      cell.appendChild(el("span", "No profiles yet: create one with POST /v1/profiles.", "empty"));
    }
    state.profiles.forEach(function (profile) {
      var row = body.insertRow();
      row.dataset.profile = profile.profile_id;
      if (state.selected === profile.profile_id) row.className = "selected";
      var name = row.insertCell();
      name.appendChild(el("strong", profile.name || profile.profile_id));
      name.appendChild(el("div", profile.profile_id, "mono note"));
      var conn = profile.connection || { status: "inactive" };
      row.insertCell().textContent = conn.pixel_id ? conn.pixel_id + (conn.pixel_name ? " (" + conn.pixel_name + ")" : "") : "—";
      row.insertCell().appendChild(pill(conn.status, conn.status === "active" ? "ok" : "bad"));
      var breaker = row.insertCell();
      breaker.appendChild(profile.breaker.open ? pill("open", "bad") : pill("closed", "ok"));
      if (profile.breaker.open && profile.breaker.retry_after) {
        breaker.appendChild(el("div", "closes by itself in " + profile.breaker.retry_after + " s", "note"));
      }
      var actions = row.insertCell();
      var show = el("button", "Show " + (profile.name || profile.profile_id));
      show.type = "button";
      show.addEventListener("click", function () { selectProfile(profile.profile_id); });
      actions.appendChild(show);
      if (profile.breaker.open) {
        var reset = el("button", "Reset breaker", "danger");
        reset.type = "button";
        reset.setAttribute("aria-label", "Reset the circuit breaker of " + (profile.name || profile.profile_id));
        reset.addEventListener("click", function () { resetBreaker(profile.profile_id); });
        actions.appendChild(document.createTextNode(" "));
        actions.appendChild(reset);
      }
    });
  }
  function resetBreaker(profileId) {
    act(api("POST", path(["profiles", profileId, "writeback", "breaker", "reset"])), function () {
      say("Circuit breaker of " + profileId + " reset: it is closed.");
      loadProfiles().then(function () {
        if (state.selected === profileId) loadAudit(true);
      });
    });
  }
  function selectProfile(profileId) {
    state.selected = profileId;
    renderProfiles();
    var profile = state.profiles.filter(function (p) { return p.profile_id === profileId; })[0];
    $("detail").hidden = false;
    $("detail-h").textContent = "Profile " + (profile && profile.name ? profile.name + " (" + profileId + ")" : profileId);
    $("detail-h").focus();
    loadAudit(true);
    loadQuality();
    loadSyncs();
  }

  // -- audit trail: filters and paging (filters are applied here, over the API's pages) -------------
  function filters() {
    return { operation: $("f-operation").value, status: $("f-status").value,
             from: $("f-from").value ? $("f-from").value + "T00:00:00.000Z" : "",
             to: $("f-to").value ? nextDay($("f-to").value) : "" };
  }
  function nextDay(date) {
    var d = new Date(date + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() + 1); return d.toISOString();
  }
  function matches(row, f) {
    return (!f.operation || row.operation === f.operation) && (!f.status || row.status === f.status) &&
      (!f.to || row.created_at < f.to);
  }
  function loadAudit(reset) {
    if (reset || !state.audit) {
      state.audit = { profile: state.selected, filters: filters(), pages: [], index: -1, buffer: [],
                      cursor: null, exhausted: false, scanned: 0 };
    }
    showAuditPage(state.audit.index + 1);
  }
  function fill(audit, requests) {
    // Fetch until a page's worth of matching rows is buffered, the trail ends or the budget is spent.
    if (audit.buffer.length >= AUDIT_PAGE || audit.exhausted || requests >= AUDIT_MAX_REQUESTS) return Promise.resolve();
    var query = "?limit=" + AUDIT_FETCH + (audit.cursor ? "&next=" + encodeURIComponent(audit.cursor) : "");
    return api("GET", path(["profiles", audit.profile, "writeback", "audit"]) + query).then(function (page) {
      page.items.forEach(function (row) {
        if (audit.exhausted) return;
        audit.scanned += 1;
        if (audit.filters.from && row.created_at < audit.filters.from) { audit.exhausted = true; return; }
        if (matches(row, audit.filters)) audit.buffer.push(row);
      });
      audit.cursor = page.next;
      if (!page.next) audit.exhausted = true;
      return fill(audit, requests + 1);
    });
  }
  function showAuditPage(index) {
    var audit = state.audit;
    var body = $("audit-table").tBodies[0];
    var ready = index < audit.pages.length ? Promise.resolve() : fill(audit, 0).then(function () {
      if (audit.buffer.length || !audit.pages.length) audit.pages.push(audit.buffer.splice(0, AUDIT_PAGE));
    });
    ready.then(function () {
      if (state.audit !== audit) return;
      audit.index = Math.min(index, audit.pages.length - 1);
      clear(body);
      var rows = audit.pages[audit.index] || [];
      if (!rows.length) {
        var empty = body.insertRow().insertCell(); empty.colSpan = 6;
        empty.appendChild(el("span", "No audit rows match these filters.", "empty"));
      }
      rows.forEach(function (row) {
        var tr = body.insertRow();
        tr.insertCell().textContent = row.created_at.replace("T", " ").replace("Z", "");
        tr.insertCell().textContent = row.operation;
        tr.insertCell().appendChild(pill(row.status, row.status === "succeeded" || row.status === "replayed" ? "ok" :
          (row.status === "partially_failed" ? "warn" : "bad")));
        tr.insertCell().textContent = row.actor + (row.via && row.via !== "api" ? " via " + row.via : "");
        var count = tr.insertCell(); count.className = "num"; count.textContent = row.event_count;
        var detail = tr.insertCell();
        if (row.error) detail.appendChild(el("div", row.error.type + ": " + row.error.message));
        if (row.idempotency_key) detail.appendChild(el("div", "key " + row.idempotency_key, "mono"));
        if (row.match_quality) detail.appendChild(el("div", "quality great " + (row.match_quality.great || 0) +
          " · good " + (row.match_quality.good || 0) + " · weak " + (row.match_quality.weak || 0), "note"));
        if (row.change) detail.appendChild(el("div", JSON.stringify(row.change), "mono note"));
        detail.appendChild(el("div", row.request_id || "", "mono note"));
      });
      var more = audit.index + 1 < audit.pages.length || audit.buffer.length > 0 || !audit.exhausted;
      $("audit-newer").disabled = audit.index <= 0;
      $("audit-older").disabled = !more;
      $("audit-page").textContent = "Page " + (audit.index + 1) + " · " + audit.scanned + " rows searched";
    }, function (error) { if (error.status !== 401) showError(error); });
  }
  $("audit-filters").addEventListener("submit", function (event) { event.preventDefault(); loadAudit(true); });
  $("audit-older").addEventListener("click", function () { showAuditPage(state.audit.index + 1); });
  $("audit-newer").addEventListener("click", function () { showAuditPage(Math.max(0, state.audit.index - 1)); });

  // -- match quality ----------------------------------------------------------------------------------
  function loadQuality() {
    var box = $("quality-body"); var profileId = state.selected;
    clear(box); box.appendChild(el("p", "Asking Meta…", "note"));
    api("GET", path(["profiles", profileId, "quality"])).then(function (report) {
      if (state.selected !== profileId) return;
      clear(box);
      var ours = report.ours; var mq = ours.match_quality;
      var total = (mq.great || 0) + (mq.good || 0) + (mq.weak || 0);
      box.appendChild(el("h4", "Ours, before sending: " + ours.pushes + " confirm(s), " + ours.events +
        " events in the last " + ours.days + " days"));
      if (total) {
        var bars = el("div", null, "bars"); bars.setAttribute("role", "img");
        bars.setAttribute("aria-label", "great " + mq.great + ", good " + mq.good + ", weak " + mq.weak);
        ["great", "good", "weak"].forEach(function (level) {
          var part = el("span", null, level); part.style.width = (100 * (mq[level] || 0) / total) + "%"; bars.appendChild(part);
        });
        box.appendChild(bars);
      }
      box.appendChild(el("p", "great " + (mq.great || 0) + " · good " + (mq.good || 0) + " · weak " + (mq.weak || 0)));
      box.appendChild(el("h4", "Meta's Event Match Quality (" + (report.meta.cached ? "cached, " : "") + "fetched " +
        report.meta.fetched_at.replace("T", " ").replace("Z", "") + " UTC)"));
      if (report.meta.events.length) {
        var table = el("table"); table.appendChild(el("caption", "EMQ and match-key coverage per event name"));
        var head = table.createTHead().insertRow();
        ["Event", "EMQ (0-10)", "Match keys (coverage %)", "Freshness"].forEach(function (h) {
          var th = el("th", h); th.scope = "col"; head.appendChild(th);
        });
        var tbody = table.createTBody();
        report.meta.events.forEach(function (event) {
          var tr = tbody.insertRow();
          tr.insertCell().textContent = event.event_name;
          var emq = tr.insertCell(); emq.className = "num"; emq.textContent = event.emq === null ? "—" : event.emq.toFixed(1);
          tr.insertCell().textContent = event.match_keys.map(function (k) { return k.identifier + " " + k.coverage; }).join(", ");
          tr.insertCell().textContent = event.freshness || "—";
        });
        box.appendChild(table);
      }
      report.notes.forEach(function (note) { box.appendChild(el("p", note, "note")); });
    }, function (error) { if (state.selected === profileId && error.status !== 401) sectionError(box, error); });
  }

  // -- syncs (the sync API may not exist on this deployment: a 404 route is an empty state) ------------
  function loadSyncs() {
    var box = $("syncs-body"); var profileId = state.selected;
    clear(box);
    api("GET", path(["profiles", profileId, "syncs"])).then(function (page) {
      if (state.selected !== profileId) return;
      var items = (page && page.items) || [];
      if (!items.length) { box.appendChild(el("p", "No syncs for this profile.", "empty")); return; }
      var table = el("table"); table.appendChild(el("caption", "Syncs and their last run"));
      var head = table.createTHead().insertRow();
      ["Sync", "Source", "Schedule", "Last run", "When (UTC)"].forEach(function (h) {
        var th = el("th", h); th.scope = "col"; head.appendChild(th);
      });
      var tbody = table.createTBody();
      items.forEach(function (sync) {
        var run = sync.last_run || {};
        var tr = tbody.insertRow();
        tr.insertCell().textContent = sync.name || sync.sync_id;
        var source = sync.source || {};
        tr.insertCell().textContent = [source.type, source.format].filter(Boolean).join(" · ");
        tr.cells[1].title = source.uri || source.output || "";
        tr.insertCell().textContent = (sync.schedule || "on demand") + (sync.enabled === false ? " (disabled)" : "");
        var last = tr.insertCell();
        if (run.status) {
          last.appendChild(pill(run.status, run.status === "succeeded" ? "ok" : (run.status === "failed" || run.status === "refused" ? "bad" : "warn")));
          last.appendChild(document.createTextNode(" · " + (run.mode || sync.mode) + " · " + (run.events_sent || 0) + " sent"));
        } else {
          last.appendChild(el("span", sync.running_run ? "running" : "never", "note"));
        }
        tr.insertCell().textContent = (run.finished_at || run.started_at || "").replace("T", " ").replace("Z", "");
      });
      box.appendChild(table);
    }, function (error) {
      if (state.selected !== profileId || error.status === 401) return;
      if (error.type === "NOT_FOUND") { box.appendChild(el("p", "Syncs are not available on this deployment yet.", "empty")); return; }
      sectionError(box, error);
    });
  }

  // -- members ------------------------------------------------------------------------------------------
  function loadMembers() {
    $("members").hidden = !isAdmin();
    if (!isAdmin()) return Promise.resolve();
    var body = $("members-table").tBodies[0];
    clear(body);
    state.workspace.members.forEach(function (member) {
      var tr = body.insertRow();
      tr.insertCell().textContent = member.user_id;
      tr.insertCell().textContent = member.role;
      var remove = el("button", "Remove", "danger"); remove.type = "button";
      remove.setAttribute("aria-label", "Remove " + member.user_id + " from the workspace");
      remove.addEventListener("click", function () {
        act(api("DELETE", path(["workspace", "members", member.user_id])), function (result) {
          say(member.user_id + " removed; " + result.tokens_revoked + " token(s) revoked."); refreshAdmin();
        });
      });
      tr.insertCell().appendChild(remove);
    });
    return Promise.resolve();
  }
  $("member-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var user = $("m-user").value.trim(); var role = $("m-role").value;
    act(api("PUT", path(["workspace", "members", user || "-"]), { role: role }), function () {
      say(user + " is now " + role + "."); $("m-user").value = ""; refreshAdmin();
    });
  });
  function refreshAdmin() {
    return api("GET", "workspace").then(function (workspace) {
      state.workspace = workspace; renderWorkspace(); loadMembers(); loadTokens();
    }, function (error) { if (error.status !== 401) showError(error); });
  }

  // -- tokens -------------------------------------------------------------------------------------------
  function loadTokens() {
    $("tokens").hidden = !isAdmin();
    if (!isAdmin()) return Promise.resolve();
    var body = $("tokens-table").tBodies[0];
    return api("GET", "tokens").then(function (page) {
      clear(body);
      page.items.forEach(function (item) {
        var tr = body.insertRow();
        tr.insertCell().appendChild(el("span", item.token_id, "mono"));
        tr.insertCell().textContent = item.user_id;
        tr.insertCell().textContent = item.scopes.join(" ");
        tr.insertCell().textContent = new Date(item.expires_at * 1000).toISOString().slice(0, 16).replace("T", " ");
        tr.insertCell().textContent = item.label || "";
        var revoke = el("button", "Revoke", "danger"); revoke.type = "button";
        revoke.setAttribute("aria-label", "Revoke token " + item.token_id + " of " + item.user_id);
        revoke.addEventListener("click", function () {
          act(api("DELETE", path(["tokens", item.token_id])), function () {
            say("Token " + item.token_id + " revoked."); loadTokens();
          });
        });
        tr.insertCell().appendChild(revoke);
      });
    }, function (error) { if (error.status !== 401) showError(error); });
  }
  $("token-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var scopes = Array.prototype.slice.call(document.querySelectorAll("input[name=scope]:checked")).map(function (c) { return c.value; });
    var request = { user_id: $("t-user").value.trim(), scopes: scopes, expires_in_days: parseInt($("t-days").value, 10) || 90 };
    if ($("t-label").value.trim()) request.label = $("t-label").value.trim();
    act(api("POST", "tokens", request), function (created) {
      $("new-token").hidden = false;
      $("new-token-value").value = created.token;
      $("new-token-value").focus(); $("new-token-value").select();
      say("Token " + created.token_id + " issued for " + created.user_id + ".");
      loadTokens();
    });
  });

  if (token()) start(false); else $("token").focus();
}());

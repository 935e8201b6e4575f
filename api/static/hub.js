// The hub page: render the hub's state and follow it live over server-sent events.
"use strict";
(function () {
  const site = document.body.dataset.site;
  // No key in any URL: a manager signs in (the form below) and the session cookie,
  // HttpOnly, rides along with the same-origin fetch and EventSource requests.
  const $ = (id) => document.getElementById(id);

  function duration(seconds) {
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
    return h ? h + " h " + m + " min" : m + " min";
  }

  const locale = document.body.dataset.locale || "en-GB";
  let zone = undefined;  // the site's time zone, from the first state

  // 24-hour times in the site's time zone, whatever the browser's zone and clock habit.
  function time(iso) {
    return new Date(iso).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone });
  }

  const shortDay = (iso) => new Date(iso + "T12:00:00Z").toLocaleDateString(locale, { weekday: "short", day: "numeric", timeZone: "UTC" });

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.append(td);
  }

  // This week (rollups for finished days, live for today), the next 7 days' bookings and
  // the day most people come: day-level counts, shown in every view.
  function renderWeek(week, today) {
    $("week-name").textContent = week.week;
    $("community").textContent = week.community_line;
    $("used-min").textContent = duration(week.used_min_s);
    const body = $("week-days").tBodies[0];
    body.replaceChildren();
    for (const day of week.days) {
      const row = document.createElement("tr");
      row.dataset.date = day.date;
      row.dataset.source = day.source;
      row.className = day.date === today ? "today" : day.source === "future" ? "later" : day.open ? "" : "closed";
      cell(row, shortDay(day.date) + (day.date === today ? " (today)" : ""));
      if (!day.open) {
        cell(row, "closed");
        cell(row, "");
      } else if (day.desks_used === null) {
        cell(row, day.source === "future" ? "–" : "not measured yet");
        cell(row, day.source === "future" ? "–" : "");
      } else {
        cell(row, String(day.desks_used));
        cell(row, day.copresence_s === null ? "–" : duration(day.copresence_s));
      }
      body.append(row);
    }
    const list = $("upcoming");
    list.replaceChildren();
    for (const day of week.upcoming) {
      const item = document.createElement("li");
      item.dataset.date = day.date;
      item.dataset.bookings = day.bookings;
      const n = document.createElement("b");
      n.textContent = day.bookings;
      const label = document.createElement("small");
      label.textContent = shortDay(day.date);
      item.append(n, label);
      list.append(item);
    }
  }

  function render(state) {
    zone = state.timezone;
    $("name").textContent = state.name;
    document.title = state.name + " · hubsense";
    const t = state.today;
    $("hours").textContent = t.open
      ? (t.open_now ? "Open now · " : "Closed now · ") + "today " + t.opening_hours.join(", ")
      : "Closed today";
    $("counts").dataset.view = state.view;
    for (const status of ["free", "occupied", "booked", "unknown"]) {
      $("n-" + status).textContent = state.counts ? state.counts[status] : "–";
    }
    $("copresence").textContent = duration(t.copresence_s);
    $("peak").textContent = t.peak + (t.peak_at ? " at " + time(t.peak_at) : "");
    renderWeek(state.week, t.date);
    const list = $("desks");
    $("desks-section").hidden = !state.desks;
    list.replaceChildren();
    for (const desk of state.desks || []) {
      const item = document.createElement("li");
      item.className = desk.status;
      item.dataset.desk = desk.desk;
      item.dataset.status = desk.status;
      const name = document.createElement("b");
      name.textContent = desk.desk;
      const detail = document.createElement("small");
      detail.textContent = desk.status + (desk.walk_in ? " · walk-in" : "") + (desk.zone ? " · " + desk.zone : "");
      item.append(name, detail);
      list.append(item);
    }
    $("updated").textContent = "updated " + time(state.at);
    $("message").textContent = state.view === "closed"
      ? "Closed now: desk counts are shown during opening hours." : notice;
  }

  // Who is signed in (the cookie is HttpOnly: ask the server), and why a sign-in failed.
  const notices = {
    "#signin-failed": "That key was not accepted (wrong or revoked).",
    "#signin-refused": "A booking tool key has no hub page view.",
    "#key-in-link": "Keys in links no longer work (they end up in browser history): sign in below.",
  };
  const notice = notices[location.hash] || "";
  if (location.hash) history.replaceState(null, "", location.pathname);
  fetch("/hubs/session").then((r) => r.json()).then((s) => {
    $("signin").hidden = s.signed_in;
    $("signout").hidden = !s.signed_in;
    if (s.signed_in) {
      $("signed-in").textContent = "Signed in (" + s.role + (s.sites ? ": " + s.sites.join(", ") : "") + ")";
    }
  });

  function fail(text) { $("message").textContent = text; }

  fetch("/hubs/" + site + "/state")
    .then((r) => r.ok ? r.json() : r.json().then((b) => Promise.reject(b.detail || r.statusText)))
    .then(render, (why) => fail(String(why)));

  const source = new EventSource("/hubs/" + site + "/events");
  source.addEventListener("state", (e) => render(JSON.parse(e.data)));
  source.onopen = () => $("live").classList.add("on");
  source.onerror = () => { $("live").classList.remove("on"); $("updated").textContent = "reconnecting…"; };
})();

// ioaccess: taps kept on the tablet through a network drop, and sent again in order.
//
// A tap whose POST fails for the network (or a 502/503/504 from a server that is restarting)
// is stored in IndexedDB with its form data (its client token and card revision included) and
// the tablet's clock time. The card moves on from the next card drawn in advance, where the
// card has one way on. As soon as the server answers, the queue is sent in order, also after a
// reload; the server records each token once, so a tap that did arrive is not doubled. A tap
// the server refuses (409, 422) is listed with the server's reason until dismissed.
//
// The cards a tap may lead to come with the page (#offline-cards, drawn by the server from the
// attempt's own version), with the server's transition table for them (#offline-moves). The
// tablet keeps where the attempt stands (#stage's data-stage, the card revision, the chosen
// site and needle) and moves the card on from there, one kept tap at a time.
(function () {
  "use strict";

  var DB_NAME = "ioaccess-taps";
  var RETRY_MS = 5000;
  var TAP_PATH = /\/attempts\/[0-9a-f-]+\/taps\/([a-z-]+)\/$/;
  var PAGE_PATH = /\/attempts\/[0-9a-f-]+\/$/;
  // Taps that answer no card: the card stays where it is.
  var STAYS = ["check", "troubleshoot", "troubleshoot-action", "correction"];

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = window.indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        var db = request.result;
        var queue = db.createObjectStore("queue", { keyPath: "seq", autoIncrement: true });
        queue.createIndex("token", "token", { unique: true });
        db.createObjectStore("failed", { keyPath: "seq", autoIncrement: true });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function run(storeName, mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(storeName, mode);
        var result = work(tx.objectStore(storeName));
        tx.oncomplete = function () { db.close(); resolve(result && result.result); };
        tx.onerror = function () { db.close(); reject(tx.error); };
        tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function all(storeName) {
    return run(storeName, "readonly", function (store) { return store.getAll(); });
  }

  // Keep a tap; a second copy of the same token (a double tap) is ignored.
  function keep(entry) {
    return run("queue", "readwrite", function (store) {
      var found = store.index("token").getKey(entry.token);
      found.onsuccess = function () {
        if (found.result === undefined) {
          store.add(entry);
        }
      };
    });
  }

  function drop(storeName, seq) {
    return run(storeName, "readwrite", function (store) { store.delete(seq); });
  }

  function fail(entry, reason) {
    return run("failed", "readwrite", function (store) {
      store.add({ label: entry.label, tappedAt: entry.tappedAt, reason: reason });
    }).then(function () { return drop("queue", entry.seq); });
  }

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    var bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  // --- what the clinician sees -------------------------------------------------------------

  function showCount() {
    return all("queue").then(function (queued) {
      var box = document.querySelector("[data-offline-queue]");
      waiting = queued.length;
      if (box) {
        box.querySelector("[data-queue-count]").textContent = String(queued.length);
        box.hidden = queued.length === 0;
      }
      return queued.length;
    });
  }

  function showFailed() {
    return all("failed").then(function (failed) {
      var section = document.getElementById("offline-failed");
      if (!section) {
        return;
      }
      var list = section.querySelector("[data-failed-list]");
      list.textContent = "";
      failed.forEach(function (item) {
        var li = document.createElement("li");
        var when = new Date(item.tappedAt);
        li.textContent = item.label + " (tapped " + when.toLocaleTimeString("en-GB") + "): " + item.reason;
        list.appendChild(li);
      });
      section.hidden = failed.length === 0;
    });
  }

  // --- where the attempt stands on this tablet ----------------------------------------------

  function moves() {
    var node = document.getElementById("offline-moves");
    try {
      return node ? JSON.parse(node.textContent) : {};
    } catch (error) {
      return {};
    }
  }

  function template(name) {
    return document.querySelector("template[data-offline-card='" + name + "']");
  }

  // The attempt as the card on screen has it: its stage, its revision, the site and needle.
  function standing() {
    var stage = document.getElementById("stage");
    if (!stage) {
      return null;
    }
    var revision = stage.querySelector("input[name='revision']");
    return {
      stage: stage.getAttribute("data-stage"),
      revision: revision ? parseInt(revision.value, 10) : null,
      site: stage.getAttribute("data-site-label") || "",
      needle: stage.getAttribute("data-needle-label") || "",
    };
  }

  // Where a card-answering tap leads from `now`: {card, stage, revision, site, needle}, with
  // card "waiting" where only the server can say (an outcome, a screen with a box ticked).
  function leadsTo(action, params, form, now) {
    var stage = (moves()[action] || {})[now.stage];
    var ticked = form && form.querySelector("input[name='present']:checked");
    if (!stage || (action === "screen" && ticked)) {
      return { card: "waiting" };
    }
    var card = stage;
    if (stage === "screen") {
      card = "screen-" + params.get("site") + "-" + params.get("side");
    }
    var after = { card: card, stage: stage, revision: now.revision + 1, site: now.site, needle: now.needle };
    if (action === "needle" && form) {
      var select = form.querySelector("select[name='needle']");
      var submitter = form.querySelector("[data-choice]");
      after.needle = select ? select.options[select.selectedIndex].text : (submitter ? submitter.getAttribute("data-choice") : "");
    }
    return after;
  }

  // Show the card drawn ahead for `to` ({card, stage, revision, site, needle}), or the
  // "waiting" card when there is none.
  function swapStage(to) {
    var stage = document.getElementById("stage");
    var drawn = template(to.card) || template("waiting");
    if (!stage || !drawn) {
      return;
    }
    stage.replaceWith(drawn.content.cloneNode(true));
    var fresh = document.getElementById("stage");
    if (to.card !== "waiting") {
      // A screen card names its own site; the other cards take the site chosen before.
      var site = to.card.indexOf("screen-") === 0 ? fresh.getAttribute("data-site-label") : to.site;
      fresh.setAttribute("data-stage", to.stage);
      fresh.setAttribute("data-site-label", site);
      fresh.setAttribute("data-needle-label", to.needle);
      fresh.querySelectorAll("input[name='revision']").forEach(function (input) {
        input.value = String(to.revision);
      });
      fresh.querySelectorAll("[data-fills='site']").forEach(function (node) { node.textContent = site; });
      fresh.querySelectorAll("[data-fills='needle']").forEach(function (node) { node.textContent = to.needle; });
    }
    if (window.htmx) {
      window.htmx.process(fresh);
    }
    var heading = fresh.querySelector("[data-focus-after-swap]");
    if (heading) {
      heading.focus();
    }
  }

  // A link or button that reopens a card of this attempt (?show=site, Stop attempt, Back):
  // without network, the card drawn ahead, at the attempt's own stage and revision.
  function reopened(config) {
    if (!config || config.verb !== "get") {
      return null;
    }
    var url = new URL(config.path, window.location.href);
    if (!PAGE_PATH.test(url.pathname) || url.pathname !== window.location.pathname) {
      return null;
    }
    var show = url.searchParams.get("show") ||
      (config.formData && config.formData.get ? config.formData.get("show") : null);
    var now = standing();
    var card = show || (now && now.stage);
    if (!now || !card || !template(card)) {
      return null;
    }
    return { card: card, stage: now.stage, revision: now.revision, site: now.site, needle: now.needle };
  }

  // A tick kept offline: the button shows it, and the form is ready for the next tap (untick)
  // with a token of its own.
  function flipCheck(form) {
    var button = form.querySelector("button[aria-pressed]");
    var checked = form.querySelector("input[name='checked']");
    if (checked) {
      checked.remove();
      button.setAttribute("aria-pressed", "true");
      button.querySelector(".check-mark").textContent = "✓";
    } else {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "checked";
      input.value = "on";
      form.appendChild(input);
      button.setAttribute("aria-pressed", "false");
      button.querySelector(".check-mark").textContent = "";
    }
    form.querySelector("input[name='client_token']").value = uuid();
  }

  // --- keeping a tap -----------------------------------------------------------------------

  var tappedAt = new WeakMap();

  var waiting = 0;

  document.addEventListener("htmx:beforeRequest", function (event) {
    tappedAt.set(event.detail.xhr, Date.now());
    // While earlier taps wait on this tablet, a new tap queues behind them: sent first, it
    // would reach the server before the taps it follows. With no network at all, it is kept
    // at once rather than sent to fail.
    var config = event.detail.requestConfig;
    var offline = window.navigator.onLine === false;
    if ((waiting > 0 || offline) && config && config.verb === "post" && TAP_PATH.test(config.path)) {
      event.preventDefault();
      keepTap(event);
      return;
    }
    var card = (waiting > 0 || offline) ? reopened(config) : null;
    if (card) {
      event.preventDefault();
      swapStage(card);
    }
  });

  // A card reopened while the network drops: the card drawn ahead, and no "Not saved" (a
  // link saves nothing).
  document.addEventListener("htmx:sendError", function (event) {
    var card = reopened(event.detail.requestConfig);
    if (card) {
      event.detail.ioaccessKept = true;
      swapStage(card);
    }
  });

  // A tap answered by a redirect to sign in (the session expired, or the tablet locked): the
  // tap is kept before the page goes there, and sent once someone is signed in again.
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var xhr = event.detail.xhr;
    var config = event.detail.requestConfig;
    var to = xhr && xhr.getResponseHeader("HX-Redirect");
    if (!to || !config || config.verb !== "post" || !TAP_PATH.test(config.path)) {
      return;
    }
    event.preventDefault();
    keepTap(event, { moveOn: false }).then(function () {
      window.location.href = to;
    });
  });

  function keepTap(event, options) {
    var moveOn = !options || options.moveOn !== false;
    var config = event.detail.requestConfig;
    var xhr = event.detail.xhr;
    if (!config || config.verb !== "post") {
      return Promise.resolve();
    }
    var match = TAP_PATH.exec(config.path);
    if (!match) {
      return Promise.resolve();
    }
    if (event.type === "htmx:responseError" && [502, 503, 504].indexOf(xhr.status) === -1) {
      return Promise.resolve();
    }
    var params = new URLSearchParams();
    config.formData.forEach(function (value, key) { params.append(key, value); });
    var token = params.get("client_token");
    if (!token) {
      return Promise.resolve();
    }
    var when = (xhr && tappedAt.get(xhr)) || Date.now();
    waiting += 1;
    params.set("tapped_at", String(when));
    var submitter = config.triggeringEvent && config.triggeringEvent.submitter;
    var label = (submitter && submitter.textContent.trim()) || match[1];
    // Told to app.js: this tap is not lost, so no "Not saved" banner.
    event.detail.ioaccessKept = true;
    var action = match[1];
    var form = config.elt && config.elt.closest ? config.elt.closest("form") : null;
    var now = standing();
    var after = STAYS.indexOf(action) === -1 && now ? leadsTo(action, params, form, now) : null;
    var entry = { token: token, url: config.path, body: params.toString(), tappedAt: when, label: label };
    if (after) {
      entry.after = after;  // where the card stands after it, for a reload without network
    }
    return keep(entry)
      .then(function () {
        if (!moveOn) {
          return waiting;
        }
        if (action === "check" && form) {
          flipCheck(form);
        } else if (after) {
          swapStage(after);
        }
        return showCount();
      })
      .then(scheduleRetry);
  }

  document.addEventListener("htmx:sendError", keepTap);
  document.addEventListener("htmx:responseError", keepTap);

  // --- sending the queue again ---------------------------------------------------------------

  var sending = false;
  var timer = null;

  function scheduleRetry() {
    if (timer === null) {
      timer = window.setTimeout(function () { timer = null; send(); }, RETRY_MS);
    }
  }

  function currentCsrf() {
    var input = document.querySelector("input[name='csrfmiddlewaretoken']");
    return input ? input.value : null;
  }

  function reasonFrom(html, status) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var node = doc.querySelector(".form-error p, .errorlist li, [role='alert'] p");
    return node ? node.textContent.trim() : "the server refused it (" + status + ")";
  }

  // One tap: "sent", "refused" (kept in the failed list), or "wait" (try again later).
  function sendOne(entry) {
    var body = new URLSearchParams(entry.body);
    var csrf = currentCsrf();
    if (csrf) {
      body.set("csrfmiddlewaretoken", csrf);
    }
    return window.fetch(entry.url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "HX-Request": "true" },
    }).then(function (response) {
      if (response.headers.get("HX-Redirect")) {
        // Signed out or locked: the tap waits until someone signs in on this tablet.
        return "wait";
      }
      if (response.ok) {
        return drop("queue", entry.seq).then(function () { return "sent"; });
      }
      if ([502, 503, 504].indexOf(response.status) !== -1) {
        return "wait";
      }
      return response.text().then(function (html) {
        return fail(entry, reasonFrom(html, response.status)).then(function () { return "refused"; });
      });
    }, function () { return "wait"; });
  }

  function send() {
    // Nobody signed in (the login page): the queue waits for the next sign-in.
    if (sending || !document.querySelector("form.logout")) {
      return Promise.resolve();
    }
    sending = true;
    var sentAny = false;
    function next(queue) {
      if (!queue.length) {
        return "done";
      }
      return sendOne(queue[0]).then(function (result) {
        if (result === "wait") {
          return "wait";
        }
        sentAny = sentAny || result === "sent";
        return next(queue.slice(1));
      });
    }
    return all("queue").then(next).then(function (result) {
      sending = false;
      return Promise.all([showCount(), showFailed()]).then(function () {
        if (result === "wait") {
          scheduleRetry();
        } else if (sentAny && document.getElementById("stage")) {
          // The server's card, now that it has every tap.
          window.location.reload();
        }
      });
    }, function () {
      sending = false;
      scheduleRetry();
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-dismiss-failed]") : null;
    if (!button) {
      return;
    }
    run("failed", "readwrite", function (store) { store.clear(); }).then(showFailed);
  });

  // --- the page itself, for a reload without network (static/js/sw.js) ---------------------

  var signedIn = document.querySelector("form.logout") !== null &&
    !document.querySelector("[data-forget-pages]");

  function forgetPages() {
    return window.caches ? window.caches.delete("ioaccess-pages") : Promise.resolve();
  }

  if ("serviceWorker" in window.navigator) {
    var worker = document.querySelector("[data-service-worker]");
    if (signedIn && worker) {
      window.navigator.serviceWorker.register(worker.getAttribute("data-service-worker"))
        .catch(function () {});
    } else if (!signedIn) {
      // Signed out, locked or handed over: no patient's page stays on the tablet.
      forgetPages();
    }
  }

  // Logging out forgets the kept pages first.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form.logout") || form.dataset.forgotten) {
      return;
    }
    event.preventDefault();
    forgetPages().then(function () {
      form.dataset.forgotten = "yes";
      form.submit();
    }, function () {
      form.submit();
    });
  });

  // A page reloaded without network shows the card it was drawn on: once the cards drawn
  // ahead are in (they load after the page), move it on by the taps kept for this attempt.
  var caughtUp = false;

  function catchUp() {
    if (caughtUp || window.navigator.onLine !== false || !document.getElementById("stage") ||
        !document.querySelector("#offline-cards[data-offline-loaded]")) {
      return Promise.resolve();
    }
    caughtUp = true;
    return all("queue").then(function (queued) {
      var last = null;
      queued.forEach(function (entry) {
        if (entry.after && entry.url.indexOf(window.location.pathname) === 0) {
          last = entry.after;
        }
      });
      if (last) {
        swapStage(last);
      }
    });
  }

  // The site drawings on the cards drawn ahead, fetched now while there is network, so that
  // a card shown offline has them (a template's images load only once it is shown).
  var preloaded = false;

  function preloadDrawings() {
    var cards = document.querySelector("#offline-cards[data-offline-loaded]");
    if (preloaded || !cards) {
      return;
    }
    preloaded = true;
    var sources = [];
    cards.querySelectorAll("template").forEach(function (drawn) {
      drawn.content.querySelectorAll("img[src]").forEach(function (img) {
        var src = img.getAttribute("src");
        if (sources.indexOf(src) === -1) {
          sources.push(src);
        }
      });
    });
    // Into the service worker's cache of scripts and styles (static/js/sw.js), where a
    // request without network finds them; no patient data, so kept after logout.
    var cached = window.caches && sources.length
      ? window.caches.open("ioaccess-assets").then(function (cache) { return cache.addAll(sources); })
      : Promise.resolve();
    // Marked once the tablet could go on without network: the drawings are kept and the
    // service worker answers for this page.
    Promise.all([cached, controlled()]).then(function () {
      cards.setAttribute("data-offline-ready", "");
    }, function () {});
  }

  function controlled() {
    var workers = window.navigator.serviceWorker;
    if (!workers) {
      return Promise.reject(new Error("no service worker"));
    }
    if (workers.controller) {
      return Promise.resolve();
    }
    return new Promise(function (resolve) {
      workers.addEventListener("controllerchange", resolve, { once: true });
    });
  }

  window.addEventListener("online", send);
  if (window.indexedDB) {
    document.addEventListener("htmx:afterSettle", function () {
      preloadDrawings();
      catchUp();
    });
    showFailed();
    catchUp().then(showCount).then(send);
  }
})();

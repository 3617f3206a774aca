// ioaccess: taps kept on the tablet through a network drop, and sent again in order.
//
// A tap whose POST fails for the network (or a 502/503/504 from a server that is restarting)
// is stored in IndexedDB with its form data (its client token and card revision included) and
// the tablet's clock time. The card moves on from the next card drawn in advance, where the
// card has one way on. As soon as the server answers, the queue is sent in order, also after a
// reload; the server records each token once, so a tap that did arrive is not doubled. A tap
// the server refuses (409, 422) is listed with the server's reason until dismissed.
(function () {
  "use strict";

  var DB_NAME = "ioaccess-taps";
  var RETRY_MS = 5000;
  // The card a one-way tap leads to (the server's transition table, for these cards only).
  var NEXT_CARD = {
    "checks-done": "insertion",
    "needle-in-bone": "confirmation",
    "confirm": "outcome",
  };
  var TAP_PATH = /\/attempts\/[0-9a-f-]+\/taps\/([a-z-]+)\/$/;

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

  function swapStage(name) {
    var stage = document.getElementById("stage");
    var template = document.querySelector("template[data-offline-card='" + name + "']") ||
      document.querySelector("template[data-offline-card='waiting']");
    if (!stage || !template) {
      return;
    }
    stage.replaceWith(template.content.cloneNode(true));
    var fresh = document.getElementById("stage");
    if (window.htmx) {
      window.htmx.process(fresh);
    }
    var heading = fresh.querySelector("[data-focus-after-swap]");
    if (heading) {
      heading.focus();
    }
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
    return keep({ token: token, url: config.path, body: params.toString(), tappedAt: when, label: label })
      .then(function () {
        if (!moveOn) {
          return waiting;
        }
        if (action === "check" && form) {
          flipCheck(form);
        } else if (action !== "troubleshoot" && action !== "troubleshoot-action") {
          swapStage(NEXT_CARD[action] || "waiting");
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

  // A page reloaded without network shows the card it was drawn on: move it on by the taps
  // kept for this attempt since then.
  function catchUp() {
    if (window.navigator.onLine !== false || !document.getElementById("stage")) {
      return Promise.resolve();
    }
    return all("queue").then(function (queued) {
      var card = null;
      queued.forEach(function (entry) {
        var match = TAP_PATH.exec(entry.url);
        if (!match || entry.url.indexOf(window.location.pathname) !== 0) {
          return;
        }
        if (match[1] !== "check" && match[1].indexOf("troubleshoot") !== 0) {
          card = NEXT_CARD[match[1]] || "waiting";
        }
      });
      if (card) {
        swapStage(card);
      }
    });
  }

  window.addEventListener("online", send);
  if (window.indexedDB) {
    showFailed();
    catchUp().then(showCount).then(send);
  }
})();

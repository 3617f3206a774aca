// The idle lock on the tablet itself: after the idle time without a tap or a key, go to the
// lock screen, so a patient's card does not stay on screen. The server locks the session too
// (ioaccess.middleware.IdleLockMiddleware); this only takes the card off the screen in time.
// Typing sends no request, so while someone types (a sign-off note, an admin form) the page
// tells the server now and then, and the lock does not throw the text away on Save.
// Pages that may stay open (the board) and the lock screen carry no idle-lock settings; the
// app's pages carry them on <body>, the admin's on <meta name="ioaccess-idle-lock">.
(function () {
  "use strict";
  var settings = document.querySelector("meta[name='ioaccess-idle-lock']");
  var data = settings ? settings.dataset : document.body.dataset;
  var minutes = Number(data.idleLockMinutes);
  var lockUrl = data.lockUrl;
  var stillHereUrl = data.stillHereUrl;
  if (!minutes || !lockUrl) {
    return;
  }
  // Well inside the idle time, and no more often than the server saves activity (a minute).
  var tellEvery = Math.max(60, Math.min(minutes * 60 / 3, 180)) * 1000;
  var timer = null;
  var told = Date.now();

  function lockNow() {
    var here = window.location.pathname + window.location.search;
    window.location.assign(lockUrl + "?next=" + encodeURIComponent(here));
  }

  function restart() {
    window.clearTimeout(timer);
    timer = window.setTimeout(lockNow, minutes * 60 * 1000);
  }

  function csrfToken() {
    var input = document.querySelector("input[name='csrfmiddlewaretoken']");
    return input ? input.value : "";
  }

  function typed() {
    restart();
    var token = csrfToken();
    if (!stillHereUrl || !token || Date.now() - told < tellEvery) {
      return;
    }
    told = Date.now();
    var body = new FormData();
    body.set("csrfmiddlewaretoken", token);
    // Best effort: if it fails, the lock screen keeps the session's rule as before.
    window.fetch(stillHereUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      redirect: "manual",
    }).catch(function () {});
  }

  // Only what a person does counts; htmx polls must not keep the card on screen.
  document.addEventListener("pointerdown", restart, { capture: true, passive: true });
  ["keydown", "input"].forEach(function (name) {
    document.addEventListener(name, typed, { capture: true, passive: true });
  });
  // A page restored from the back-forward cache starts a fresh timer too.
  window.addEventListener("pageshow", restart);
  restart();
})();

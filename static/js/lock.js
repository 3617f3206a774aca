// The idle lock on the tablet itself: after the idle time without a tap or a key, go to the
// lock screen, so a patient's card does not stay on screen. The server locks the session too
// (ioaccess.middleware.IdleLockMiddleware); this only takes the card off the screen in time.
// Pages that may stay open (the board) and the lock screen carry no data-idle-lock-minutes.
(function () {
  "use strict";
  var body = document.body;
  var minutes = Number(body.dataset.idleLockMinutes);
  var lockUrl = body.dataset.lockUrl;
  if (!minutes || !lockUrl) {
    return;
  }
  var timer = null;

  function lockNow() {
    var here = window.location.pathname + window.location.search;
    window.location.assign(lockUrl + "?next=" + encodeURIComponent(here));
  }

  function restart() {
    window.clearTimeout(timer);
    timer = window.setTimeout(lockNow, minutes * 60 * 1000);
  }

  // Only what a person does counts; htmx polls must not keep the card on screen.
  ["pointerdown", "keydown", "input"].forEach(function (name) {
    document.addEventListener(name, restart, { capture: true, passive: true });
  });
  // A page restored from the back-forward cache starts a fresh timer too.
  window.addEventListener("pageshow", restart);
  restart();
})();

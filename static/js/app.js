// ioaccess: the only script besides htmx. No inline handlers anywhere (strict CSP).
(function () {
  "use strict";

  function banner() {
    return document.getElementById("connection-banner");
  }

  // A save that did not reach the server, or that the server refused, must be visible, never
  // silent: the banner stays up until a later request succeeds.
  function showNotSaved(event) {
    // A tap the tablet kept (static/js/taps.js) is not lost: it shows its own count.
    if (event && event.detail && event.detail.ioaccessKept) {
      return;
    }
    // A background load that saves nothing (the cards drawn ahead for offline use).
    var elt = event && event.detail && event.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-quiet-errors")) {
      return;
    }
    var el = banner();
    if (el) {
      el.hidden = false;
    }
  }

  document.addEventListener("htmx:sendError", showNotSaved);
  document.addEventListener("htmx:responseError", showNotSaved);
  document.addEventListener("htmx:timeout", showNotSaved);

  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail && event.detail.xhr;
    // 422: the form came back with its message; 409: the card was out of date and the
    // current one came back. Either way the server answered: nothing is lost.
    if (event.detail.successful || (xhr && (xhr.status === 422 || xhr.status === 409))) {
      var el = banner();
      if (el) {
        el.hidden = true;
      }
    }
  });

  // After a swap, move focus to the first error or the new card's heading, so a screen reader
  // and a gloved hand both land where the next action is.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.elt;
    if (!target || !target.querySelector) {
      return;
    }
    // The field that needs the finger first; otherwise the message or the new heading.
    var focusable = target.querySelector("[aria-invalid='true']") ||
      target.querySelector("[data-focus-after-swap]");
    if (focusable) {
      if (!focusable.hasAttribute("tabindex") && !/^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(focusable.tagName)) {
        focusable.setAttribute("tabindex", "-1");
      }
      focusable.focus();
    }
  });
  // A page that came back with an error (no htmx, e.g. Start): the finger lands on the field.
  var invalid = document.querySelector("main [aria-invalid='true']");
  if (invalid) {
    invalid.focus();
  }

  // Elapsed time since the attempt started, from the server's start time, so a reload does not
  // reset it. Without JavaScript the server-rendered value stays.
  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }
  function tick() {
    var nodes = document.querySelectorAll("[data-elapsed-since]");
    for (var i = 0; i < nodes.length; i++) {
      var started = Date.parse(nodes[i].getAttribute("data-elapsed-since"));
      if (isNaN(started)) {
        continue;
      }
      var seconds = Math.max(0, Math.floor((Date.now() - started) / 1000));
      var hours = Math.floor(seconds / 3600);
      var text = (hours ? hours + ":" + pad(Math.floor(seconds / 60) % 60) : Math.floor(seconds / 60)) + ":" + pad(seconds % 60);
      nodes[i].textContent = "elapsed " + text;
    }
  }
  if (document.querySelector("[data-elapsed-since]")) {
    tick();
    window.setInterval(tick, 1000);
  }

  // Panels (troubleshooting) close without a round trip: nothing is recorded by closing.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-close-panel]") : null;
    if (!button) {
      return;
    }
    var panel = document.getElementById(button.getAttribute("data-close-panel"));
    if (panel) {
      panel.hidden = true;
    }
  });

  // The contraindication screen: once any box is ticked, "Choose another site" becomes the
  // primary button and "Use this site" the secondary one (the server draws the same on a reload).
  document.addEventListener("change", function (event) {
    var form = event.target.closest ? event.target.closest("form[data-screen]") : null;
    if (!form) {
      return;
    }
    var yes = form.querySelector("input[type='checkbox']:checked") !== null;
    var buttons = form.querySelectorAll("[data-when-yes]");
    for (var i = 0; i < buttons.length; i++) {
      var remove = buttons[i].getAttribute(yes ? "data-when-no" : "data-when-yes").split(" ");
      var add = buttons[i].getAttribute(yes ? "data-when-yes" : "data-when-no").split(" ");
      buttons[i].classList.remove.apply(buttons[i].classList, remove);
      buttons[i].classList.add.apply(buttons[i].classList, add);
    }
  });
})();

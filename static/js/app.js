// ioaccess: the only script besides htmx. No inline handlers anywhere (strict CSP).
(function () {
  "use strict";

  function banner() {
    return document.getElementById("connection-banner");
  }

  // A save that did not reach the server, or that the server refused, must be visible, never
  // silent: the banner stays up until a later request succeeds.
  function showNotSaved() {
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
    if (event.detail.successful || (xhr && xhr.status === 422)) {
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
    var focusable = target.querySelector("[aria-invalid='true'], [data-focus-after-swap]");
    if (focusable) {
      if (!focusable.hasAttribute("tabindex") && !/^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(focusable.tagName)) {
        focusable.setAttribute("tabindex", "-1");
      }
      focusable.focus();
    }
  });
})();

// The content admin: leaving a page with unsaved changes asks first (design.md §8, nothing is lost).
// Loaded with <script src> from templates/admin/base_site.html: the CSP allows no inline script.
(function () {
  "use strict";
  let dirty = false;
  let submitting = false;

  function editedForm(target) {
    const form = target && (target.form || (target.closest && target.closest("form")));
    // Only the page's own change form: not the log-out or workflow buttons' forms.
    return form && form.id && form.id.endsWith("_form") ? form : null;
  }

  function markDirty(event) {
    if (editedForm(event.target)) {
      dirty = true;
      document.body.classList.add("has-unsaved-changes");
    }
  }

  document.addEventListener("input", markDirty, true);
  document.addEventListener("change", markDirty, true);
  document.addEventListener(
    "submit",
    (event) => {
      if (editedForm(event.target)) {
        submitting = true;
      }
    },
    true,
  );
  // select2 (the sources autocomplete) changes its <select> through jQuery, without a DOM event.
  const jq = window.django && window.django.jQuery;
  if (jq) {
    jq(document).on("select2:select select2:unselect", markDirty);
  }
  window.addEventListener("beforeunload", (event) => {
    if (dirty && !submitting) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();

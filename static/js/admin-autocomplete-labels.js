// Names the admin autocomplete's search box (select2 renders it without a label) after the
// field it belongs to, e.g. "Sources": screen readers and axe need an accessible name.
// Loaded with <script src> from templates/admin/base_site.html: the CSP allows no inline script.
(function () {
  "use strict";

  function labelFor(select) {
    const label = select.id && document.querySelector(`label[for="${select.id}"]`);
    const text = label ? label.textContent.replace(/[:*]\s*$/, "").trim() : "";
    return text || "Search";
  }

  function nameSearchBoxes() {
    document.querySelectorAll("select.admin-autocomplete").forEach((select) => {
      const container = select.nextElementSibling;
      if (!container || !container.classList.contains("select2")) {
        return;
      }
      const name = labelFor(select);
      container.querySelectorAll(".select2-search__field").forEach((field) => {
        field.setAttribute("aria-label", name);
      });
    });
  }

  // Deferred, so the admin's autocomplete.js has queued its own ready handler first: this one
  // runs after select2 has built the boxes.
  const jq = window.django && window.django.jQuery;
  if (jq) {
    jq(() => {
      nameSearchBoxes();
      // select2 may rebuild the box when a choice is added or removed.
      jq(document).on("select2:select select2:unselect select2:close", nameSearchBoxes);
    });
  }
  document.addEventListener("formset:added", () => window.setTimeout(nameSearchBoxes, 0));
})();

// Curator console: small enhancements. Every page works without this file.
// Behaviour hangs off data- attributes so it can be found with grep.
(function () {
  "use strict";

  // data-confirm="Question?" on a form: ask before submitting.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);

  // Trace picker: "Add selected (n)" and a select-all box for the page.
  function rows(root) {
    return Array.from((root || document).querySelectorAll("input[data-select-row]"));
  }

  function refreshSelection() {
    const checked = rows().filter(function (box) { return box.checked; }).length;
    document.querySelectorAll("[data-selection-count]").forEach(function (el) {
      el.textContent = checked ? "(" + checked + ")" : "";
    });
    document.querySelectorAll("[data-selection-button]").forEach(function (button) {
      button.disabled = checked === 0 && !document.querySelector('input[type=hidden][name=trace_id]');
    });
    document.querySelectorAll("input[data-select-all]").forEach(function (all) {
      const boxes = rows();
      all.hidden = boxes.length === 0;
      all.checked = boxes.length > 0 && boxes.every(function (box) { return box.checked; });
      all.indeterminate = checked > 0 && checked < boxes.length;
    });
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target.matches && target.matches("input[data-select-all]")) {
      rows().forEach(function (box) { box.checked = target.checked; });
    }
    if (target.matches && target.matches("input[data-select-row], input[data-select-all]")) {
      refreshSelection();
    }
  });

  document.addEventListener("DOMContentLoaded", refreshSelection);
  document.addEventListener("htmx:afterSwap", refreshSelection);

  // data-poll-seconds="N" with hx-trigger="poll-due": every N seconds, while the page is
  // visible and the focus is not inside it, the element gets a "poll-due" event (and htmx
  // reloads it). Done here, not in an hx-trigger filter: the Content-Security-Policy forbids
  // the eval that filters need.
  document.addEventListener("DOMContentLoaded", function () {
    const first = document.querySelector("[data-poll-seconds]");
    const seconds = first && parseInt(first.getAttribute("data-poll-seconds"), 10);
    if (!seconds || !window.htmx) {
      return;
    }
    window.setInterval(function () {
      if (document.visibilityState !== "visible") {
        return;
      }
      document.querySelectorAll("[data-poll-seconds]").forEach(function (el) {
        if (!el.contains(document.activeElement)) {
          window.htmx.trigger(el, "poll-due");
        }
      });
    }, seconds * 1000);
  });
})();

// data-slug-from="<input id>": suggest a label name from the question while the name is empty
// or still the last suggestion ("Is the answer correct?" → "is_the_answer_correct").
(function () {
  "use strict";
  function slug(text) {
    return text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 60);
  }
  document.addEventListener("input", function (event) {
    const source = event.target;
    if (!source.id) return;
    document.querySelectorAll('[data-slug-from="' + source.id + '"]').forEach(function (target) {
      const suggested = target.dataset.suggested || "";
      if (target.value === "" || target.value === suggested) {
        target.value = slug(source.value);
        target.dataset.suggested = target.value;
      }
    });
  });
})();

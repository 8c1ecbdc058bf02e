// Small progressive enhancements. Everything works without this file.
// Behaviour hangs off data- attributes so it can be found with grep.
(function () {
  "use strict";

  // data-char-counter: a textarea's "n / max characters" line (data-counter-for=<textarea id>).
  function updateCounter(textarea) {
    const counter = document.querySelector('[data-counter-for="' + textarea.id + '"]');
    if (!counter) return;
    const max = textarea.getAttribute("maxlength");
    counter.textContent = textarea.value.length + (max ? " / " + max : "") + " characters";
  }

  // data-text-list: add and remove rows of a text-list question.
  function refreshTextList(list) {
    const rows = list.querySelectorAll("[data-text-list-row]");
    const max = parseInt(list.dataset.maxCount || "0", 10);
    rows.forEach(function (row) {
      const remove = row.querySelector("[data-remove-row]");
      if (remove) remove.hidden = rows.length <= 1;
    });
    const add = list.querySelector("[data-add-row]");
    if (add) add.hidden = max > 0 && rows.length >= max;
  }

  function enhance(root) {
    root.querySelectorAll("textarea[data-char-counter]").forEach(updateCounter);
    root.querySelectorAll("[data-text-list]").forEach(refreshTextList);
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-char-counter]")) {
      updateCounter(event.target);
    }
  });

  document.addEventListener("click", function (event) {
    const add = event.target.closest && event.target.closest("[data-add-row]");
    if (add) {
      const list = add.closest("[data-text-list]");
      const rows = list.querySelectorAll("[data-text-list-row]");
      const last = rows[rows.length - 1];
      const copy = last.cloneNode(true);
      const input = copy.querySelector("input");
      input.value = "";
      input.setAttribute("aria-label", input.getAttribute("aria-label").replace(/\d+$/, String(rows.length + 1)));
      last.after(copy);
      refreshTextList(list);
      input.focus();
      return;
    }
    const remove = event.target.closest && event.target.closest("[data-remove-row]");
    if (remove) {
      const list = remove.closest("[data-text-list]");
      const row = remove.closest("[data-text-list-row]");
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      refreshTextList(list);
      const focusTarget = next && next.querySelector ? next.querySelector("input") : null;
      if (focusTarget) focusTarget.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSwap", function (event) { enhance(event.target); });
})();

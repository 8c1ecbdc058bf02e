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

  // data-copy-target=<input id>: copy that input's value (API tokens shown once).
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-copy-target]");
    if (!button) return;
    const input = document.getElementById(button.dataset.copyTarget);
    if (!input) return;
    input.select();
    const done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // form[data-max-bytes]: say at once when the chosen files are over the upload limit.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.matches || !form.matches("form[data-max-bytes]")) return;
    const limit = parseInt(form.dataset.maxBytes, 10);
    let total = 0;
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      Array.prototype.forEach.call(input.files || [], function (file) { total += file.size; });
    });
    if (limit && total > limit) {
      event.preventDefault();
      event.stopImmediatePropagation();
      const mb = function (bytes) { return (bytes / 1048576).toFixed(1) + " MB"; };
      alert("The files add up to " + mb(total) + "; the limit is " + mb(limit) +
        " per upload. Upload them in several goes.");
    }
  }, true);

  // data-select-on-focus: select an input's whole value when it gets focus.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input[data-select-on-focus]")) {
      event.target.select();
    }
  });

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSwap", function (event) { enhance(event.target); });
})();

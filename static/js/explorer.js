// Trace explorer enhancements. Everything works without this file; it adds keyboard moves in
// the span tree, expand/collapse all, row selection counts and focus after HTMX swaps.
// Behaviour hangs off data- attributes (grep for them).
(function () {
  "use strict";

  function spanLinks(tree) {
    // Visible span links only: those not inside a collapsed <details>.
    return Array.prototype.filter.call(tree.querySelectorAll("a.sp"), function (link) {
      return link.offsetParent !== null;
    });
  }

  function spanOf(link) {
    return new URLSearchParams(link.search).get("span");
  }

  function markSelected(spanId) {
    var tree = document.querySelector("[data-span-tree]");
    if (!tree) return;
    tree.querySelectorAll('a.sp[aria-current="true"]').forEach(function (link) {
      link.removeAttribute("aria-current");
    });
    if (!spanId) return;
    var links = tree.querySelectorAll("a.sp");
    for (var i = 0; i < links.length; i++) {
      if (spanOf(links[i]) === spanId) {
        links[i].setAttribute("aria-current", "true");
        return;
      }
    }
  }

  function initTree(root) {
    var tree = root.querySelector("[data-span-tree]");
    if (!tree || tree.dataset.ready) return;
    tree.dataset.ready = "1";
    var tools = document.querySelector("[data-tree-tools]");
    if (tools && tree.querySelector("details")) {
      tools.hidden = false;
      tools.querySelector("[data-tree-expand]").addEventListener("click", function () {
        tree.querySelectorAll("details").forEach(function (d) { d.open = true; });
      });
      tools.querySelector("[data-tree-collapse]").addEventListener("click", function () {
        tree.querySelectorAll("details").forEach(function (d, i) { d.open = i === 0; });
      });
    }
    var current = tree.querySelector('a.sp[aria-current="true"]');
    if (current) current.scrollIntoView({ block: "nearest" });

    tree.addEventListener("click", function (event) {
      var link = event.target.closest("a.sp");
      if (link) markSelected(spanOf(link));
    });
    // Arrow keys move between spans, Left/Right collapse and expand, Home/End jump.
    tree.addEventListener("keydown", function (event) {
      var link = event.target.closest("a.sp");
      if (!link || event.altKey || event.ctrlKey || event.metaKey) return;
      var links = spanLinks(tree);
      var index = links.indexOf(link);
      var next = link.nextElementSibling;
      var details = next && next.tagName === "DETAILS" ? next : null; // the span's children
      var target = null;
      switch (event.key) {
        case "ArrowDown": target = links[index + 1]; break;
        case "ArrowUp": target = links[index - 1]; break;
        case "Home": target = links[0]; break;
        case "End": target = links[links.length - 1]; break;
        case "ArrowRight":
          if (details && !details.open) { details.open = true; event.preventDefault(); return; }
          target = links[index + 1];
          break;
        case "ArrowLeft":
          if (details && details.open) { details.open = false; event.preventDefault(); return; }
          var parent = link.closest("li").parentElement.closest("details");
          target = parent && parent.parentElement.querySelector(":scope > a.sp");
          break;
        default: return;
      }
      event.preventDefault();
      if (target) target.focus();
    });
  }

  function initSelection(root) {
    var table = root.querySelector("[data-trace-table]");
    if (!table) return;
    var all = table.querySelector("[data-select-all]");
    var counter = document.querySelector("[data-selection-count]");
    function boxes() { return table.querySelectorAll('tbody input[type="checkbox"]'); }
    function update() {
      var checked = table.querySelectorAll('tbody input[type="checkbox"]:checked').length;
      if (counter) {
        counter.hidden = checked === 0;
        counter.textContent = checked + " selected";
      }
      if (all) {
        all.checked = checked > 0 && checked === boxes().length;
        all.indeterminate = checked > 0 && checked < boxes().length;
      }
    }
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (box) { box.checked = all.checked; });
        update();
      });
    }
    table.addEventListener("change", function (event) {
      if (event.target.matches('tbody input[type="checkbox"]')) update();
    });
    update();
  }

  function init(root) {
    initTree(root);
    initSelection(root);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target) return;
    init(document);
    // Sorting from a column header: keep the filter form's Sort in step.
    if (target.id === "trace-results") {
      var sort = document.querySelector("[data-trace-filters] select[name=sort]");
      if (sort && target.dataset.sort) sort.value = target.dataset.sort;
    }
    var view = document.getElementById("span-view");
    if (view && (target === view || target.id === "span-view")) {
      markSelected(view.dataset.selectedSpan);
      // Show the new span from its top when the page was scrolled down a long panel.
      var header = document.querySelector(".app-header");
      var offset = (header ? header.offsetHeight : 0) + 12;
      var top = view.getBoundingClientRect().top;
      if (top < offset) window.scrollTo({ top: window.scrollY + top - offset });
    }
    // After a label form comes back with errors, put the cursor on the first one.
    var invalid = document.querySelector('#assessments [aria-invalid="true"]');
    if (invalid && (target.id === "assessments" || target.closest && target.closest("#assessments"))) {
      invalid.focus();
    }
  });

  // Filters: leave empty fields out of the request (and so out of the address bar).
  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt.matches || !event.detail.elt.matches("[data-trace-filters]")) return;
    var params = event.detail.parameters;
    Object.keys(params).forEach(function (key) {
      if (params[key] === "") delete params[key];
    });
  });

  // "+ Add" in the labels pane jumps to the form and puts the cursor in its name field.
  document.addEventListener("click", function (event) {
    var jump = event.target.closest && event.target.closest("[data-focus-add]");
    if (!jump) return;
    var name = document.querySelector("#assessments .label-form input[name=name]");
    if (name) {
      event.preventDefault();
      name.scrollIntoView({ block: "center", behavior: "smooth" });
      name.focus({ preventScroll: true });
    }
  });

  // "edited" toggles the history open and closed instead of loading it twice.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var trigger = event.detail.elt;
    if (!trigger || !trigger.matches || !trigger.matches("[data-history-toggle]")) return;
    var slot = event.detail.target;
    if (slot && slot.children.length) {
      event.preventDefault();
      slot.innerHTML = "";
    }
  });
})();

// Label forms: changing the data type swaps in its value input (HTMX). What the person typed
// into the value box while that request was on its way is carried over, with the focus.
(function () {
  "use strict";
  var typed = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.classList || !target.classList.contains("value-field")) return;
    var old = target.querySelector("textarea, input:not([type=hidden]):not([type=radio]), select");
    if (!old) return;
    typed = {
      id: target.id,
      value: old.value,
      focused: document.activeElement === old,
      start: old.selectionStart,
      end: old.selectionEnd,
    };
  });
  document.addEventListener("htmx:afterSwap", function () {
    if (!typed) return;
    var keep = typed;
    typed = null;
    var field = document.getElementById(keep.id);
    var input = field && field.querySelector("textarea, input:not([type=hidden]):not([type=radio]), select");
    if (!input) return;
    if (keep.value !== "" && input.tagName !== "SELECT") input.value = keep.value;
    if (keep.focused) {
      input.focus();
      try { input.setSelectionRange(keep.start, keep.end); } catch (e) { /* a number box */ }
    }
  });
})();

// After a label is added, edited or deleted in the pane ([data-labels-of][data-label-count]),
// the span tree's badge of that span shows the new count.
document.addEventListener("htmx:afterSettle", function () {
  "use strict";
  var pane = document.querySelector("[data-labels-of][data-label-count]");
  var tree = document.querySelector("[data-span-tree]");
  if (!pane || !tree || !pane.dataset.labelsOf) return;
  var count = Number(pane.dataset.labelCount);
  var link = Array.prototype.find.call(tree.querySelectorAll("a.sp"), function (a) {
    return new URLSearchParams(a.search).get("span") === pane.dataset.labelsOf;
  });
  if (!link) return;
  var badge = link.querySelector(".sp-labels");
  if (!count) {
    if (badge) badge.remove();
    return;
  }
  if (!badge) {
    badge = document.createElement("span");
    badge.className = "sp-labels";
    link.insertBefore(badge, link.querySelector(".sp-bar"));
  }
  badge.textContent = String(count);
  badge.title = count + (count === 1 ? " label" : " labels");
});

// Review app: keyboard shortcuts, the current question, and lease renewal while the labeler is
// active. Everything works without this file (plain forms and links); it only makes it faster.
// Hooks: [data-review-item] (the swapped item), [data-question] (a question, with
// data-question-number), [data-option-key] (an option's number key), [data-hotkey] (a control
// that a key triggers: a button or link is clicked, a <summary> opens its <details>),
// [data-open-dialog] (opens the <dialog> of that id), #lease-status[data-lease-interval].
(function () {
  "use strict";

  const NOT_TEXT = new Set(["radio", "checkbox", "button", "submit", "reset", "range", "color", "file", "image"]);

  function isTyping(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable) return true;
    if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" && !NOT_TEXT.has(el.type);
  }

  function itemRoot() {
    return document.querySelector("[data-review-item]");
  }

  function questions() {
    const root = itemRoot();
    if (!root) return [];
    return Array.from(root.querySelectorAll("[data-question]")).sort(function (a, b) {
      return Number(a.dataset.questionNumber) - Number(b.dataset.questionNumber);
    });
  }

  function currentQuestion() {
    const root = itemRoot();
    return root ? root.querySelector("[data-question].is-current") : null;
  }

  function setCurrent(question, focus) {
    if (!question) return;
    questions().forEach(function (q) {
      if (q !== question) q.classList.remove("is-current");
    });
    question.classList.add("is-current");
    if (focus) {
      question.tabIndex = -1;
      question.focus({ preventScroll: true });
      question.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    const all = questions();
    if (!all.length) return;
    const index = all.indexOf(currentQuestion());
    let next = index < 0 ? (step > 0 ? 0 : all.length - 1) : index + step;
    next = Math.max(0, Math.min(all.length - 1, next));
    setCurrent(all[next], true);
  }

  function pickOption(key) {
    const question = currentQuestion() || questions()[0];
    if (!question) return false;
    const input = question.querySelector('[data-option-key="' + key + '"]');
    if (!input) {
      // A number question: the digit starts the answer (the key goes on to the field).
      const number = question.querySelector('input[type="number"]');
      if (number) {
        setCurrent(question, false);
        number.focus();
      }
      return false;
    }
    setCurrent(question, false);
    input.click(); // checks a radio, toggles a checkbox; fires input/change like a person would
    input.focus({ preventScroll: true });
    if (input.type === "radio") {
      // A single answer is given: go on to the next question, as a person would.
      const all = questions();
      const index = all.indexOf(question);
      if (index >= 0 && index < all.length - 1) setCurrent(all[index + 1], true);
    }
    return true;
  }

  function openDialog(id) {
    const dialog = document.getElementById(id);
    if (dialog && typeof dialog.showModal === "function" && !dialog.open) dialog.showModal();
  }

  function trigger(el) {
    if (el.tagName === "SUMMARY") {
      const details = el.parentElement;
      details.open = true;
      const field = details.querySelector("input:not([type=hidden]), textarea, button");
      if (field) field.focus();
      return;
    }
    if (el.dataset.openDialog) {
      openDialog(el.dataset.openDialog);
      return;
    }
    el.focus({ preventScroll: true });
    el.click();
  }

  function hotkeyTarget(key) {
    const selector = '[data-hotkey="' + CSS.escape(key) + '"]';
    const root = itemRoot();
    return (root && root.querySelector(selector)) || document.querySelector(selector);
  }

  function submitFormOf(active) {
    // Ctrl/Cmd+Enter submits the form the focused field belongs to (the skip or flag reason),
    // else the answers.
    const owner = active && active.form;
    const root = itemRoot();
    const form = owner || (root && root.querySelector("[data-answer-form]"));
    if (!form) return false;
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else form.submit();
    return true;
  }

  function nextQuestion(event, active) {
    const onRadio = active && active.type === "radio";
    if (event.key.length > 1 && (onRadio || !currentQuestion())) return false; // arrows move radios
    move(1);
    return true;
  }

  function previousQuestion(event, active) {
    const onRadio = active && active.type === "radio";
    if (event.key.length > 1 && (onRadio || !currentQuestion())) return false;
    move(-1);
    return true;
  }

  function clickHotkey(key) {
    return function () {
      const target = hotkeyTarget(key);
      if (!target || target.disabled) return false;
      trigger(target);
      return true;
    };
  }

  // The keys, in the order the shortcut list (the ? dialog) shows them; the list is made from
  // this table. `keys` are what the list shows; `match` says whether a key event is this one
  // (`typing`: also while the focus is in a text box); `run` returns true when it acted.
  const SHORTCUTS = [
    { keys: ["1", "…", "9"], help: "Pick an option of the current question (checkboxes toggle)",
      match: function (e) { return /^[1-9]$/.test(e.key); }, run: function (e) { return pickOption(e.key); } },
    { keys: ["J", "↓"], help: "Next question",
      match: function (e) { return e.key === "j" || e.key === "J" || e.key === "ArrowDown"; }, run: nextQuestion },
    { keys: ["K", "↑"], help: "Previous question",
      match: function (e) { return e.key === "k" || e.key === "K" || e.key === "ArrowUp"; }, run: previousQuestion },
    { keys: ["Ctrl / ⌘", "Enter"], help: "Submit & next (works while typing). Enter alone never submits.", typing: true,
      match: function (e) { return (e.ctrlKey || e.metaKey) && e.key === "Enter"; },
      run: function (e, active) { return submitFormOf(active); } },
    { keys: ["Esc"], help: "Leave a text box (shortcuts work again)", typing: true,
      match: function (e) { return e.key === "Escape"; }, run: leave },
    { keys: ["S"], help: "Skip (type a reason or just press Enter)",
      match: letter("s"), run: clickHotkey("s") },
    { keys: ["F"], help: "Flag the item for the curator",
      match: letter("f"), run: clickHotkey("f") },
    { keys: ["B"], help: "Back to my previous item",
      match: letter("b"), run: clickHotkey("b") },
    { keys: ["N"], help: "Next item (back to the queue, from an item done before)",
      match: letter("n"), run: clickHotkey("n") },
    { keys: ["?"], help: "This list",
      match: function (e) { return e.key === "?"; }, run: clickHotkey("?") },
  ];
  window.reviewShortcuts = SHORTCUTS;

  function letter(key) {
    return function (e) { return !e.ctrlKey && !e.metaKey && !e.altKey && e.key.toLowerCase() === key; };
  }

  function leave(event, active) {
    const details = active && active.closest && active.closest("details[open][data-action-details]");
    if (details) {
      details.open = false;
      details.querySelector("summary").focus();
      return true;
    }
    if (isTyping(active)) {
      const question = active.closest("[data-question]");
      if (question) setCurrent(question, true);
      else active.blur();
      return true;
    }
    return false;
  }

  function renderShortcuts() {
    const body = document.querySelector("[data-shortcut-rows]");
    if (!body || body.dataset.filled) return;
    body.dataset.filled = "1";
    SHORTCUTS.forEach(function (shortcut) {
      const row = document.createElement("tr");
      const keys = document.createElement("th");
      keys.scope = "row";
      shortcut.keys.forEach(function (key, index) {
        if (index) keys.append(" ");
        if (key === "…") {
          keys.append("…");
          return;
        }
        const kbd = document.createElement("kbd");
        kbd.textContent = key;
        keys.append(kbd);
      });
      const help = document.createElement("td");
      help.textContent = shortcut.help;
      row.append(keys, help);
      body.append(row);
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    if (document.querySelector("dialog[open]")) return; // the dialog handles its own keys (Esc)
    const active = document.activeElement;
    if (event.key === "Enter" && !event.ctrlKey && !event.metaKey) {
      // Enter never submits the answers: in a field of the answer form it does nothing (a
      // text box takes it as a new line; a button or <summary> still does its own thing).
      const form = active && active.form;
      if (form && form.matches("[data-answer-form]") && active.tagName === "INPUT") {
        event.preventDefault();
      }
      return;
    }
    const typing = isTyping(active);
    if (!typing && (event.ctrlKey || event.metaKey || event.altKey) && event.key !== "Enter") return;
    for (const shortcut of SHORTCUTS) {
      if ((typing && !shortcut.typing) || !shortcut.match(event)) continue;
      if (shortcut.run(event, active)) event.preventDefault();
      return;
    }
  });

  // The question that holds the focus is the current one.
  document.addEventListener("focusin", function (event) {
    const question = event.target.closest && event.target.closest("[data-question]");
    if (question && !question.classList.contains("is-current")) setCurrent(question, false);
  });

  document.addEventListener("click", function (event) {
    const opener = event.target.closest && event.target.closest("[data-open-dialog]");
    if (opener) {
      openDialog(opener.dataset.openDialog);
      event.preventDefault();
    }
  });

  // --- lease renewal: ping while the labeler is active --------------------------------------
  let lastActivity = Date.now();
  let lastRenewal = Date.now();
  function markActive() {
    lastActivity = Date.now();
  }
  ["keydown", "pointerdown", "input", "wheel", "scroll"].forEach(function (name) {
    document.addEventListener(name, markActive, { passive: true, capture: true });
  });
  let lastMove = 0;
  document.addEventListener(
    "mousemove",
    function () {
      const now = Date.now();
      if (now - lastMove > 2000) {
        lastMove = now;
        markActive();
      }
    },
    { passive: true }
  );
  window.setInterval(function () {
    const status = document.querySelector("#lease-status[data-lease-interval]");
    if (!status || !window.htmx || document.hidden) return;
    const interval = Number(status.dataset.leaseInterval) * 1000;
    if (Date.now() - lastRenewal >= interval && lastActivity > lastRenewal) {
      lastRenewal = Date.now();
      window.htmx.trigger(document.body, "lease-renew");
    }
  }, 1000);

  // --- the questions panel fits the window, so Submit & next is always in view --------------------
  let fitQueued = false;
  function fitPanel() {
    fitQueued = false;
    const panel = document.querySelector("[data-review-panel]");
    if (!panel || getComputedStyle(panel).position !== "sticky") return;
    const top = Math.max(panel.getBoundingClientRect().top, 0);
    panel.style.maxHeight = Math.max(240, window.innerHeight - top - 8) + "px";
  }
  function queueFit() {
    if (!fitQueued) {
      fitQueued = true;
      window.requestAnimationFrame(fitPanel);
    }
  }
  window.addEventListener("scroll", queueFit, { passive: true });
  window.addEventListener("resize", queueFit);
  document.addEventListener("toggle", queueFit, true); // the instructions open and close

  // --- after load and after each swap ------------------------------------------------------------
  let shownItem = null;
  function settle() {
    const root = itemRoot();
    if (!root || root === shownItem) return;
    const firstLoad = shownItem === null;
    shownItem = root;
    root.dataset.ready = "1"; // (tests wait for this)
    renderShortcuts();
    lastRenewal = Date.now(); // the claim or page load just renewed the reservation
    root.querySelectorAll("[data-open-dialog][hidden]").forEach(function (el) {
      el.hidden = false;
    });
    if (root.dataset.title) document.title = root.dataset.title + " · Review App";
    fitPanel();
    const invalid = root.querySelector("[data-question].has-error");
    const target = invalid || questions()[0];
    if (target) {
      setCurrent(target, true);
    } else if (!firstLoad) {
      const heading = root.querySelector("h1[tabindex]");
      if (heading) heading.focus({ preventScroll: true });
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    // Pages without an item (the session's start page, the finished page) have the list too.
    renderShortcuts();
    document.querySelectorAll("[data-open-dialog][hidden]").forEach(function (el) {
      el.hidden = false;
    });
    settle();
  });
  // After settling: htmx restores the class attributes of elements kept by id when it settles,
  // which would drop the "current question" mark set any earlier.
  document.addEventListener("htmx:afterSettle", settle);
})();

// --- completeness and drafts ----------------------------------------------------------------------
// Each question shows whether it is answered ([data-question-state], and its mark in the panel's
// list, [data-mark-for]); [data-open-count] counts the open ones. The answer form
// ([data-answer-form][data-draft-url]) is saved as a draft a moment after each change, so
// typed answers survive a reload or another device; leaving with a change not saved yet asks
// first.
(function () {
  "use strict";

  let timer = null;
  let dirty = false;

  function answerForm() {
    return document.querySelector("form[data-answer-form][data-draft-url]");
  }

  function answered(form, question) {
    const name = question.dataset.field;
    return new FormData(form).getAll(name).some(function (value) {
      return String(value).trim() !== "";
    });
  }

  function refreshCompleteness() {
    const form = answerForm();
    if (!form) return;
    let open = 0;
    form.querySelectorAll("[data-question]").forEach(function (question) {
      const done = answered(form, question);
      const required = question.hasAttribute("data-required");
      if (!done) open += 1;
      const state = question.querySelector("[data-question-state]");
      if (state) state.textContent = done ? "answered" : required ? "open" : "optional";
      question.classList.toggle("is-answered", done);
      const mark = form.querySelector('[data-mark-for="' + question.id + '"]');
      if (mark) {
        mark.classList.toggle("is-answered", done);
        const text = mark.querySelector("[data-mark-state]");
        if (text) text.textContent = done ? ", answered" : required ? ", open" : ", optional";
      }
    });
    const count = form.querySelector("[data-open-count]");
    if (count) count.textContent = String(open);
  }

  function status(text) {
    const el = document.querySelector("[data-draft-status]");
    if (el) el.textContent = text;
  }

  function saveDraft(keepalive) {
    const form = answerForm();
    window.clearTimeout(timer);
    timer = null;
    if (!form || !dirty) return;
    const body = new FormData(form); // with its CSRF token field
    const url = form.dataset.draftUrl;
    dirty = false;
    status("Saving draft…");
    fetch(url, { method: "POST", body: body, keepalive: !!keepalive, credentials: "same-origin",
                 headers: { "HX-Request": "true" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        const el = document.querySelector("[data-draft-status]");
        if (el && answerForm() === form) el.outerHTML = html;
      })
      .catch(function () {
        if (answerForm() !== form) return;
        dirty = true; // try again when the connection is back
        status("Draft not saved yet (no connection?): it will be saved when the connection is back.");
      });
  }

  function changed(event) {
    const form = answerForm();
    if (!form || !event.target.form || event.target.form !== form) return;
    dirty = true;
    refreshCompleteness();
    status("Unsaved changes…");
    window.clearTimeout(timer);
    timer = window.setTimeout(saveDraft, 700);
  }
  document.addEventListener("input", changed);
  document.addEventListener("change", changed);
  window.addEventListener("online", function () { saveDraft(false); });

  // Leaving with changes not saved yet asks first (the draft is being saved, or could not be).
  window.addEventListener("beforeunload", function (event) {
    if (!dirty) return;
    saveDraft(true);
    event.preventDefault();
    event.returnValue = "";
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    const form = answerForm();
    if (!form || !dirty) return;
    if (event.detail.elt === form) {
      // Submitting: the answers go with the submit, which clears the draft.
      window.clearTimeout(timer);
      dirty = false;
    } else {
      saveDraft(true); // Back, Skip, Flag: keep what was typed
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!dirty) refreshCompleteness();
  });
  document.addEventListener("DOMContentLoaded", refreshCompleteness);
})();

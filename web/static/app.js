// Progressive enhancement for the web UI: every page works without this file.
// Local times, copy buttons, confirm dialogs, chart tooltips. No inline handlers (CSP).
"use strict";

(function () {
  function localTimes() {
    var full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
    var day = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
    document.querySelectorAll("time[data-local]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) return;
      el.title = el.textContent;
      el.textContent = (el.dataset.local === "date" ? day : full).format(when);
    });
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var ok = document.execCommand("copy");
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copyButtons() {
    document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
      var target = document.getElementById(button.dataset.copy);
      if (!target) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = "value" in target && target.tagName === "INPUT" ? target.value : target.textContent;
        copyText(text).then(
          function () { flash(button, "Copied"); },
          function () { flash(button, "Press Ctrl+C"); select(target); }
        );
      });
    });
  }

  function select(target) {
    if (target.tagName === "INPUT") { target.select(); return; }
    var range = document.createRange();
    range.selectNodeContents(target);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function flash(button, text) {
    var before = button.dataset.label || button.textContent;
    button.dataset.label = before;
    button.textContent = text;
    button.setAttribute("aria-live", "polite");
    setTimeout(function () { button.textContent = before; }, 2000);
  }

  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) {
          event.preventDefault();
          return;
        }
        if (!form.querySelector("input[name=confirm]")) {
          var yes = document.createElement("input");
          yes.type = "hidden";
          yes.name = "confirm";
          yes.value = "yes";
          form.appendChild(yes);
        }
      });
    });
    document.querySelectorAll("[data-confirm-click]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.dataset.confirmClick)) event.preventDefault();
      });
    });
  }

  function tooltips() {
    var tip = null;
    function show(event) {
      var bar = event.currentTarget;
      if (!tip) {
        tip = document.createElement("div");
        tip.className = "tooltip";
        tip.setAttribute("role", "tooltip");
        document.body.appendChild(tip);
      }
      tip.textContent = bar.dataset.tip;
      var box = bar.getBoundingClientRect();
      tip.hidden = false;
      var left = Math.min(window.scrollX + box.left, window.scrollX + document.documentElement.clientWidth - tip.offsetWidth - 8);
      tip.style.left = Math.max(8, left) + "px";
      tip.style.top = window.scrollY + box.top - tip.offsetHeight - 6 + "px";
    }
    function hide() { if (tip) tip.hidden = true; }
    document.querySelectorAll("g.bar[data-tip]").forEach(function (bar) {
      var title = bar.querySelector("title");
      if (title) { bar.setAttribute("aria-label", title.textContent); title.remove(); }
      bar.addEventListener("mouseenter", show);
      bar.addEventListener("focus", show);
      bar.addEventListener("mouseleave", hide);
      bar.addEventListener("blur", hide);
    });
  }

  function customRange() {
    var range = document.getElementById("f-range");
    ["f-start", "f-end"].forEach(function (id) {
      var input = document.getElementById(id);
      if (range && input) input.addEventListener("change", function () { range.value = "custom"; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes();
    copyButtons();
    confirmations();
    tooltips();
    customRange();
  });
})();

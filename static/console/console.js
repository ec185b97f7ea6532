// The console's few behaviours: copy buttons, confirmations, list editors, select-all.
(function () {
  "use strict";

  function copyText(text, button) {
    function done() {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1200);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else {
      fallback(text);
      done();
    }
  }

  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try offline */ }
    document.body.removeChild(area);
  }

  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var source = copy.parentNode.querySelector("[data-copy-source]");
      if (source) { copyText(source.textContent.trim(), copy); }
      return;
    }
    var add = event.target.closest("[data-list-add]");
    if (add) {
      var editor = add.closest(".cb-list");
      var row = editor.querySelector("template").content.firstElementChild.cloneNode(true);
      editor.querySelector(".cb-list-items").appendChild(row);
      row.querySelector("input").focus();
      return;
    }
    var more = event.target.closest("[data-filter-add]");
    if (more) {
      var rows = more.parentNode.querySelectorAll(".cb-filter-row");
      var copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelector("input").value = "";
      rows[rows.length - 1].after(copy);
      return;
    }
    var remove = event.target.closest("[data-list-remove]");
    if (remove) {
      remove.closest(".cb-list-item").remove();
      return;
    }
    var confirmable = event.target.closest("[data-confirm]");
    if (confirmable && !window.confirm(confirmable.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-all]")) {
      var table = event.target.closest("table");
      table.querySelectorAll("input[name=selected]").forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
    if (event.target.matches("[data-access-select]")) {
      showAccessExtras(event.target);
    }
  });

  // Groups / ids inputs only make sense for their level: show the one that applies.
  function showAccessExtras(select) {
    var row = select.closest("[data-access-row]");
    if (!row) { return; }
    row.querySelectorAll("[data-for-level]").forEach(function (extra) {
      extra.hidden = extra.getAttribute("data-for-level") !== select.value;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-access-select]").forEach(showAccessExtras);
  });
})();

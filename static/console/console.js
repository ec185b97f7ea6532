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
    var less = event.target.closest("[data-filter-remove]");
    if (less) {
      var row = less.closest(".cb-filter-row");
      if (row.parentNode.querySelectorAll(".cb-filter-row").length > 1) {
        row.remove();
      } else {
        row.querySelector("[data-filter-field]").value = "";
        row.querySelector("input").value = "";
      }
      return;
    }
    var move = event.target.closest("[data-col-up], [data-col-down]");
    if (move) {
      var item = move.closest("li");
      if (move.hasAttribute("data-col-up") && item.previousElementSibling) {
        item.previousElementSibling.before(item);
      } else if (move.hasAttribute("data-col-down") && item.nextElementSibling) {
        item.nextElementSibling.after(item);
      }
      return;
    }
    var addRow = event.target.closest("[data-add-row]");
    if (addRow) {
      submitAddRow(addRow.closest("tr"));
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
    if (event.target.matches("[data-filter-field]")) {
      typeOperators(event.target);
    }
    if (event.target.matches("[data-autosubmit]")) {
      event.target.form.submit();
    }
  });

  // Imports: the answer streams one JSON line per progress step, then the result's HTML.
  function streamImport(form) {
    var box = form.parentNode.querySelector("[data-import-progress]");
    var bar = box.querySelector("progress");
    var status = box.querySelector("[data-import-status]");
    var result = form.parentNode.querySelector("[data-import-result]");
    var button = form.querySelector("button[type=submit]");
    box.hidden = false;
    bar.removeAttribute("value");
    status.textContent = "Uploading…";
    result.innerHTML = "";
    button.disabled = true;
    var buffered = "";
    function line(text) {
      if (!text.trim()) { return; }
      var message = JSON.parse(text);
      if (message.progress) {
        var p = message.progress;
        bar.max = p.total || 1;
        bar.value = Math.min(p.bytes, bar.max);
        status.textContent = p.rows.toLocaleString() + " rows read (" +
          Math.round(100 * bar.value / bar.max) + "%)";
      }
      if (message.done) {
        bar.value = bar.max;
        status.textContent = "Done.";
        result.innerHTML = message.done;
        button.disabled = false;
      }
    }
    fetch(form.action || window.location.href, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-Console-Stream": "1", "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) { line(buffered); return; }
          buffered += decoder.decode(chunk.value, { stream: true });
          var lines = buffered.split("\n");
          buffered = lines.pop();
          lines.forEach(line);
          return pump();
        });
      }
      return pump();
    }).catch(function (error) {
      status.textContent = "The import could not finish: " + error;
      button.disabled = false;
    });
  }

  // The column chooser sends the ticked columns in the order shown.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches("[data-import-stream]") && window.fetch && window.TextDecoder) {
      event.preventDefault();
      streamImport(form);
      return;
    }
    if (form.matches("[data-columns-form]")) {
      var names = [];
      form.querySelectorAll("li[data-col]").forEach(function (item) {
        var box = item.querySelector("input[type=checkbox]");
        if (box.checked) { names.push(item.getAttribute("data-col")); }
      });
      form.querySelector("input[name=cols]").value = names.join(",");
    }
  });

  // A filtered page shows first; its total follows (a count may read the whole class).
  function fillTotal(element) {
    fetch(element.getAttribute("data-total-url"), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.count === undefined) { return; }
        var page = element.getAttribute("data-page");
        var more = body.exact ? "" : "more than ";
        element.textContent = "Page " + page + " of " + more + body.pages + " · " + more +
          body.count + " record" + (body.count === 1 && body.exact ? "" : "s");
      });
  }

  // Only the operators of the chosen field's type are offered (the query module refuses the
  // others with the same rule).
  function typeOperators(fieldSelect) {
    var row = fieldSelect.closest(".cb-filter-row");
    var option = fieldSelect.selectedOptions[0];
    var type = option ? option.getAttribute("data-type") : null;
    var ops = row.querySelector("[data-filter-op]");
    var firstAllowed = null;
    Array.prototype.forEach.call(ops.options, function (op) {
      var allowed = !type || op.getAttribute("data-types").split(" ").indexOf(type) >= 0;
      op.hidden = op.disabled = !allowed;
      if (allowed && firstAllowed === null) { firstAllowed = op.value; }
    });
    if (ops.selectedOptions[0] && ops.selectedOptions[0].disabled && firstAllowed !== null) {
      ops.value = firstAllowed;
    }
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function showGridErrors(lines) {
    var box = document.getElementById("grid-errors");
    if (!box) { return; }
    box.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = "Not saved: ";
    box.appendChild(strong);
    box.appendChild(document.createTextNode(lines.join("; ")));
    box.hidden = lines.length === 0;
  }

  // Inline edit: a double-click on a cell asks the server for the field's typed input.
  document.addEventListener("dblclick", function (event) {
    var cell = event.target.closest("td.cb-editable");
    if (!cell || cell.querySelector(".cb-cell-form")) { return; }
    var grid = cell.closest("[data-grid]");
    var url = grid.getAttribute("data-cell-url")
      .replace("RID", cell.closest("tr").getAttribute("data-record-id"))
      .replace("FIELD", encodeURIComponent(cell.getAttribute("data-col")));
    fetch(url, { credentials: "same-origin" }).then(function (response) {
      return response.json();
    }).then(function (body) {
      cell.setAttribute("data-before", cell.innerHTML);
      cell.innerHTML = "";
      // Not a <form>: the cell sits inside the selection's form, and forms do not nest.
      var form = document.createElement("div");
      form.className = "cb-cell-form";
      form.setAttribute("data-url", url);
      form.innerHTML = body.form +
        '<button type="button" class="button" data-cell-save>Save</button>' +
        '<button type="button" class="button cb-secondary" data-cell-cancel>Cancel</button>';
      cell.appendChild(form);
      var input = form.querySelector("input:not([type=hidden]), textarea, select");
      if (input) { input.focus(); }
    });
  });

  document.addEventListener("keydown", function (event) {
    var editor = event.target.closest(".cb-cell-form");
    if (editor && event.key === "Enter" && event.target.tagName === "INPUT") {
      event.preventDefault();
      saveCell(editor);
    }
  });

  document.addEventListener("click", function (event) {
    var save = event.target.closest("[data-cell-save]");
    if (save) {
      saveCell(save.closest(".cb-cell-form"));
      return;
    }
    var cancel = event.target.closest("[data-cell-cancel]");
    if (cancel) {
      var cell = cancel.closest("td");
      cell.innerHTML = cell.getAttribute("data-before");
    }
  });

  function renderCell(cell, value) {
    cell.textContent = "";
    var span = document.createElement("span");
    span.textContent = value.text;
    if (value["null"]) { span.className = "cb-null"; }
    if (value.title) { span.title = value.title; }
    cell.appendChild(span);
  }

  function saveCell(form) {
    var cell = form.closest("td");
    fetch(form.getAttribute("data-url"), {
      method: "POST", body: inputsOf(form), credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      return response.json();
    }).then(function (body) {
      if (body.cell) {
        renderCell(cell, body.cell);
      } else {
        form.querySelectorAll(":scope > :not(button)").forEach(function (node) { node.remove(); });
        form.insertAdjacentHTML("afterbegin", body.form);
      }
    });
  }

  // What a form would post of the inputs inside `element`.
  function inputsOf(element) {
    var data = new FormData();
    element.querySelectorAll("input, textarea, select").forEach(function (input) {
      if (!input.name || input.type === "button") { return; }
      if ((input.type === "checkbox" || input.type === "radio") && !input.checked) { return; }
      data.append(input.name, input.value);
    });
    return data;
  }

  // The add row: its inputs are posted to the add-record view, which answers JSON.
  function submitAddRow(row) {
    var data = inputsOf(row);
    data.append("inline", "1");
    var grid = row.closest("[data-grid]");
    fetch(grid.getAttribute("data-add-url"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      return response.json();
    }).then(function (body) {
      if (body._id) {
        window.location.reload();
        return;
      }
      var lines = [];
      Object.keys(body.errors || {}).forEach(function (name) {
        body.errors[name].forEach(function (message) {
          lines.push((name === "__all__" ? "" : name + ": ") + message);
        });
      });
      showGridErrors(lines);
    });
  }

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
    document.querySelectorAll("[data-filter-field]").forEach(typeOperators);
    document.querySelectorAll("[data-total-url]").forEach(fillTotal);
  });
})();

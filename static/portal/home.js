/* Operations Home: after an in-place action the confirmation appears next to the row, and
 * keyboard focus moves to the next row instead of the page top.
 *
 * A row's action forms load (htmx) when its "Actions" disclosure is first opened. An action
 * answers with the updated row, closed (or nothing, once the task left Home) and triggers
 * "home-changed", which re-fetches the groups. When that refresh has landed, this script puts the
 * confirmation where the row is (or was) and focuses the row that followed it. A refused action
 * re-renders its row with the reason and its actions open; focus then goes to that reason.
 * Without JavaScript a row's "Actions" links to the task page, where the same actions are.
 */
(function () {
  "use strict";
  var pending = null;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#home-groups .home-row"));
  }

  function reveal(row) {
    var details = row.closest("details");
    if (details && !details.open) details.open = true;
  }

  function focusRow(row) {
    if (!row) return;
    reveal(row);
    if (!row.hasAttribute("tabindex")) row.setAttribute("tabindex", "-1");
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function confirmation(text) {
    var note = document.createElement("p");
    note.className = "confirmation";
    note.setAttribute("data-home-confirmation", "");
    note.textContent = "\u2713 " + text;
    return note;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail.elt;
    var row = source && source.closest ? source.closest(".home-row") : null;
    if (!row || !source.matches("form")) return;
    var all = rows();
    var index = all.indexOf(row);
    var group = row.closest(".home-group");
    pending = {
      id: row.id,
      index: index,
      nextId: index >= 0 && all[index + 1] ? all[index + 1].id : null,
      groupId: group ? group.id : null,
      action: source.getAttribute("hx-post") || "",
    };
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (!pending || !event.detail.failed) return;
    var row = document.getElementById(pending.id);
    pending = null;
    if (!row) return;
    var alert = row.querySelector("[role=alert]");
    if (alert) {
      alert.setAttribute("tabindex", "-1");
      window.setTimeout(function () { alert.focus(); }, 0);
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (!pending || event.detail.elt.id !== "home-groups") return;
    var done = pending;
    pending = null;
    var statusLine = document.getElementById("home-status");
    var text = statusLine ? statusLine.textContent.trim() : "";
    var acted = document.getElementById(done.id);
    var next = done.nextId ? document.getElementById(done.nextId) : null;
    if (!next) {
      // The row that followed has moved on too: take whatever now stands at the same place.
      var all = rows().filter(function (row) { return row.id !== done.id; });
      next = all[Math.min(done.index, all.length - 1)] || null;
    }
    if (text) {
      if (acted) {
        if (!acted.querySelector(".confirmation")) {
          acted.insertBefore(confirmation(text), acted.querySelector(".row-actions-box"));
        }
      } else {
        var item = document.createElement("li");
        item.className = "home-row home-row-done";
        item.appendChild(confirmation(text));
        var group = done.groupId ? document.getElementById(done.groupId) : null;
        var list = group ? group.querySelector(".home-rows") : null;
        if (next && list && list.contains(next)) list.insertBefore(item, next);
        else if (list) list.appendChild(item);
        else if (group) group.appendChild(item);
      }
    }
    focusRow(next || acted);
  });
})();

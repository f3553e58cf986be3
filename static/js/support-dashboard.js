// The live support dashboard: keyboard shortcuts, the triage countdown, kiosk toggle.
// A static file (the Content-Security-Policy allows no inline script).
(function () {
  "use strict";
  var board = document.getElementById("support-dashboard");
  if (!board) return;
  var help = document.getElementById("shortcut-help");
  var pendingG = false;
  var selected = null;

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function section(key) {
    return board.querySelector('[data-shortcut="' + key + '"]');
  }

  function select(row) {
    if (selected) selected.classList.remove("selected");
    selected = row;
    if (row) {
      row.classList.add("selected");
      row.focus();
    }
  }

  function rowsOf(container) {
    return Array.prototype.slice.call(container.querySelectorAll(".dash-row"));
  }

  function move(step) {
    var container = (selected && selected.closest(".dash-section")) || section("t");
    if (!container) return;
    var rows = rowsOf(container);
    if (!rows.length) return;
    var at = selected ? rows.indexOf(selected) : -1;
    var next = rows[Math.max(0, Math.min(rows.length - 1, at + step))];
    select(next);
  }

  function goTo(key) {
    var target = section(key);
    if (!target) return;
    target.scrollIntoView({ block: "start" });
    var rows = rowsOf(target);
    if (rows.length) select(rows[0]);
    else {
      target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }

  function toggleHelp() {
    if (!help) return;
    if (help.open) help.close();
    else help.showModal();
  }

  function toggleKiosk() {
    var url = new URL(window.location.href);
    if (url.searchParams.get("kiosk") === "1") url.searchParams.delete("kiosk");
    else url.searchParams.set("kiosk", "1");
    window.location.assign(url.toString());
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (help && help.open && event.key !== "?") return;
    var key = event.key;
    if (pendingG) {
      pendingG = false;
      if ("tnocd".indexOf(key) >= 0) {
        event.preventDefault();
        goTo(key);
      }
      return;
    }
    if (key === "g") {
      pendingG = true;
      window.setTimeout(function () { pendingG = false; }, 1500);
    } else if (key === "?") {
      event.preventDefault();
      toggleHelp();
    } else if (key === "j") {
      move(1);
    } else if (key === "k") {
      move(-1);
    } else if (key === "Enter" && selected && selected.dataset.href) {
      window.location.assign(selected.dataset.href);
    } else if (key === "a" && selected) {
      var ack = selected.querySelector("[data-ack]");
      if (ack) ack.click();
    } else if (key === "d") {
      var declare = board.querySelector('a[href$="/incidents/declare/"]');
      if (declare) window.location.assign(declare.href);
    } else if (key === "f") {
      toggleKiosk();
    }
  });

  board.addEventListener("click", function (event) {
    if (event.target.closest("[data-shortcut-help]")) toggleHelp();
  });

  // A re-rendered section loses the selection's element: select the same incident again.
  document.body.addEventListener("htmx:oobAfterSwap", function () {
    if (!selected) return;
    var id = selected.dataset.incident;
    var container = selected.closest(".dash-section");
    if (container && document.body.contains(container)) return;
    var again = board.querySelector('.dash-row[data-incident="' + id + '"]');
    selected = null;
    if (again) select(again);
  });

  // The triage countdown: minutes and seconds left to the 30-minute target.
  function tick() {
    var now = Date.now();
    board.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var left = Math.round((Date.parse(el.dataset.deadline) - now) / 1000);
      if (isNaN(left)) return;
      if (left <= 0) {
        el.textContent = "triage overdue";
        el.classList.add("soon");
        return;
      }
      var minutes = Math.floor(left / 60);
      var seconds = left % 60;
      el.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds + " left to triage";
      el.classList.toggle("soon", left < 300);
    });
  }
  tick();
  window.setInterval(tick, 1000);
})();

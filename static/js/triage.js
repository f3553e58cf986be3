/* The triage countdown (handbook 004: 30 minutes): the server renders the time left; this
   ticks it down each second. Safe to load twice (htmx re-runs scripts in swapped regions). */
(function () {
  "use strict";
  if (window.triageCountdown) return;
  window.triageCountdown = true;

  function clock(seconds) {
    var size = Math.abs(seconds);
    var text = Math.floor(size / 60) + ":" + String(size % 60).padStart(2, "0");
    return seconds > 0 ? text + " left" : text + " overdue";
  }

  function tick() {
    var box = document.getElementById("triage-countdown");
    if (!box) return;
    var deadline = parseInt(box.getAttribute("data-deadline"), 10);
    if (isNaN(deadline)) return;
    var left = Math.round(deadline - Date.now() / 1000);
    var out = box.querySelector(".countdown-clock");
    if (out) out.textContent = clock(left);
    box.classList.toggle("overdue", left <= 0);
  }

  tick();
  window.setInterval(tick, 1000);
})();

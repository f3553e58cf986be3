/* The portal's own script: small progressive enhancements; every page works without it. */
(function () {
  "use strict";
  var root = document.documentElement;

  // Live regions (hx-trigger="every …") only poll when htmx runs: say "refreshed every …" then.
  if (window.htmx) root.classList.add("live");

  // The menu is a <details>: CSS keeps it open on wide screens. Where the browser cannot style
  // a closed <details>'s content (no ::details-content), open it there by script instead.
  var wide = window.matchMedia("(min-width: 60rem)");
  var detailsStylable = window.CSS && CSS.supports && CSS.supports("selector(::details-content)");
  function menuFit() {
    var menu = document.querySelector("details.menu");
    if (menu && !detailsStylable) menu.open = wide.matches;
  }

  document.addEventListener("keydown", function (event) {
    var menu = document.querySelector("details.menu[open]");
    if (event.key === "Escape" && menu && !wide.matches) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });

  // After a failed form submit, move focus to a summary of the errors (role=alert), so a
  // keyboard or screen reader user hears what went wrong instead of starting at the top.
  function fieldErrors(form) {
    var items = [];
    form.querySelectorAll("ul.errorlist:not(.nonfield)").forEach(function (list) {
      var id = (list.id || "").replace(/_error$/, "");
      var field = (id && document.getElementById(id)) || null;
      if (!field) {
        var group = list.parentElement;
        field = group && group.querySelector("input:not([type=hidden]), select, textarea");
      }
      var label = field && field.labels && field.labels.length ? field.labels[0].textContent : "";
      list.querySelectorAll("li").forEach(function (error) {
        items.push({ field: field, text: (label ? label.replace(/:\s*$/, "") + ": " : "") + error.textContent });
      });
    });
    return items;
  }

  function linkList(errors) {
    var links = document.createElement("ul");
    links.className = "error-links";
    errors.forEach(function (error) {
      var item = document.createElement("li");
      if (error.field && error.field.id) {
        var link = document.createElement("a");
        link.href = "#" + error.field.id;
        link.textContent = error.text;
        link.addEventListener("click", function (event) {
          event.preventDefault();
          error.field.focus();
        });
        item.appendChild(link);
      } else {
        item.textContent = error.text;
      }
      links.appendChild(item);
    });
    return links;
  }

  // The summary is the view's own alert when it wrote one, else a new one atop the form.
  function errorSummary(marker) {
    var summary = marker.closest("[role=alert]");
    var form = marker.closest("form");
    if (!summary && form) summary = form.querySelector("[role=alert]");
    if (!summary) {
      summary = document.createElement("div");
      var title = document.createElement("p");
      title.textContent = "Please correct the errors below.";
      summary.appendChild(title);
      form.insertBefore(summary, form.firstElementChild);
    }
    if (!form) {
      var card = summary.parentElement;
      form = card && card.querySelector("form");
    }
    var errors = form ? fieldErrors(form) : [];
    if (errors.length && !summary.querySelector("ul.error-links")) {
      summary.appendChild(linkList(errors));
    }
    summary.classList.add("error-summary");
    summary.setAttribute("role", "alert");
    summary.setAttribute("tabindex", "-1");
    return summary;
  }

  // Django's error lists, or a message the view marked as an alert.
  var ERROR_MARKERS = "ul.errorlist, .errors[role=alert], .error[role=alert], .error-summary";

  // `fresh`: only errors that came with the last swap, not ones already on the page.
  function focusFirstFormError(fresh) {
    var main = document.getElementById("main");
    if (!main) return;
    var marker = Array.prototype.find.call(main.querySelectorAll(ERROR_MARKERS), function (el) {
      return !fresh || !el.hasAttribute("data-seen");
    });
    if (!marker) return;
    if (!marker.closest("[role=alert], form")) return; // an error shown outside any form
    errorSummary(marker).focus();
  }

  // A feed address selects itself when clicked, ready to copy.
  document.addEventListener("click", function (event) {
    if (event.target.matches && event.target.matches("input.feed-url")) event.target.select();
  });

  function ready() {
    menuFit();
    wide.addEventListener("change", menuFit);
    focusFirstFormError(false);
    // A form posted with htmx comes back in place: the same rule applies once it has settled.
    document.body.addEventListener("htmx:beforeRequest", function () {
      document.querySelectorAll(ERROR_MARKERS).forEach(function (el) {
        el.setAttribute("data-seen", "");
      });
    });
    document.body.addEventListener("htmx:afterSettle", function (event) {
      var config = event.detail && event.detail.requestConfig;
      if (config && config.verb && config.verb !== "get") focusFirstFormError(true);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();

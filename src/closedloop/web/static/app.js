// closedloop: small progressive enhancements. Every page works without this file.
"use strict";

(function () {
  // Search as you type: ask the server for the results only and swap them in.
  function liveSearch(form) {
    var target = document.querySelector(form.getAttribute("data-live-search"));
    if (!target || !window.fetch || !window.URLSearchParams) {
      return;
    }
    var timer = null;
    var controller = null;

    function run() {
      var params = new URLSearchParams(new FormData(form));
      params.delete("page");
      var url = form.getAttribute("action") + "?" + params.toString();
      if (controller) {
        controller.abort();
      }
      controller = window.AbortController ? new AbortController() : null;
      target.setAttribute("aria-busy", "true");
      fetch(url, {
        credentials: "same-origin",
        headers: { "X-Requested-With": "closedloop" },
        signal: controller ? controller.signal : undefined,
      })
        .then(function (response) {
          if (response.redirected || !response.ok) {
            // Logged out or an error: let the browser show the real page.
            window.location.assign(url);
            return null;
          }
          return response.text();
        })
        .then(function (html) {
          if (html !== null) {
            target.innerHTML = html;
            window.history.replaceState(null, "", url);
          }
          target.removeAttribute("aria-busy");
        })
        .catch(function () {
          target.removeAttribute("aria-busy");
        });
    }

    form.addEventListener("input", function (event) {
      if (event.target.name !== "q") {
        return;
      }
      window.clearTimeout(timer);
      timer = window.setTimeout(run, 250);
    });
    form.addEventListener("change", function (event) {
      if (event.target.name === "status") {
        run();
      }
    });
  }

  // Close the user menu with Escape and return focus to its button.
  function closableMenus() {
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") {
        return;
      }
      document.querySelectorAll("details.usermenu[open]").forEach(function (menu) {
        menu.removeAttribute("open");
        var summary = menu.querySelector("summary");
        if (summary) {
          summary.focus();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-live-search]").forEach(liveSearch);
    closableMenus();
  });
})();

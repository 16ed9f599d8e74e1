// closedloop: the segment builder's live count. The page works without this file (the Count
// button posts the form); with it, every edit posts the form to /segments/preview and swaps
// the count and profile in. Changing a condition's kind submits the form to show its inputs.
"use strict";

(function () {
  var form = document.getElementById("segment-form");
  if (!form || !window.fetch || !window.FormData) {
    return;
  }
  var timer = null;
  var controller = null;

  function refresh() {
    var target = document.getElementById("segment-preview");
    if (!target) {
      return;
    }
    if (controller) {
      controller.abort();
    }
    controller = window.AbortController ? new AbortController() : null;
    target.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Requested-With": "closedloop" },
      signal: controller ? controller.signal : undefined,
    })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) {
          target.outerHTML = html;
        }
      })
      .catch(function () {
        target.removeAttribute("aria-busy");
      });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", function (event) {
    if (event.target.hasAttribute("data-refresh")) {
      var action = document.createElement("input");
      action.type = "hidden";
      action.name = "action";
      action.value = "count";
      form.appendChild(action);
      form.submit();
      return;
    }
    later();
  });
})();
